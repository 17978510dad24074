// The chapter editor's beats: a button that adds an empty row. Without it, saving brings empty rows back.
document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("table.beat-rows")) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Add a beat";
    button.className = "button";
    button.addEventListener("click", () => {
      const rows = table.tBodies[0].rows;
      const row = rows[rows.length - 1].cloneNode(true);
      const index = rows.length;
      row.cells[0].textContent = String(index + 1);
      for (const field of row.querySelectorAll("input, select")) {
        field.name = field.name.replace(/-\d+-/, `-${index}-`);
        field.id = field.id.replace(/-\d+-/, `-${index}-`);
        field.setAttribute("aria-label", field.getAttribute("aria-label").replace(/\d+$/, String(index + 1)));
        field.value = "";
      }
      table.tBodies[0].appendChild(row);
      row.querySelector("input").focus();
    });
    table.after(button);
  }
});
