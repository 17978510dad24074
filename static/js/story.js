// The story page: the new passage streams in as the Writer writes it (server-sent events over
// fetch, since EventSource cannot POST). Without JavaScript the form posts and the page reloads.
(function () {
  const form = document.getElementById("action-form");
  if (!form || !window.fetch || !window.TextDecoder) return;
  const textarea = form.querySelector("textarea[name=action]");
  const errorBox = document.getElementById("stream-error");
  const button = form.querySelector("button[type=submit]");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const keyField = form.querySelector("input[name=idempotency_key]");

  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function newTurnElement(turn) {
    const article = document.createElement("article");
    article.className = "turn turn-pending";
    article.id = "turn-" + turn.number;
    const action = document.createElement("p");
    action.className = "action";
    const number = document.createElement("span");
    number.className = "turn-number";
    number.textContent = turn.number;
    action.append(number, " " + turn.action);
    const prose = document.createElement("div");
    prose.className = "prose streaming";
    prose.setAttribute("aria-live", "polite");
    article.append(action, prose);
    document.getElementById("turns").append(article);
    article.scrollIntoView({ block: "start", behavior: "smooth" });
    return prose;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    button.disabled = true;
    let prose = null;
    try {
      const response = await fetch(form.dataset.streamUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ action: textarea.value, idempotency_key: keyField.value }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        showError(body.detail || "The turn could not be played (HTTP " + response.status + ").");
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let split;
        while ((split = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, split);
          buffer = buffer.slice(split + 2);
          const kind = (block.match(/^event: (.*)$/m) || [])[1];
          const data = JSON.parse((block.match(/^data: (.*)$/m) || [null, "null"])[1]);
          if (kind === "turn") prose = newTurnElement(data);
          if (kind === "text" && prose) prose.textContent += data.text;
          if (kind === "done") {
            // Show the finished turn with its tools (or its error and a retry button).
            window.location.assign(form.dataset.storyUrl + "?t=" + Date.now() + "#turn-" + data.number);
            return;
          }
        }
      }
      showError("The connection closed before the passage was finished; your action is saved. Reload the page.");
    } catch (error) {
      showError("The connection was lost; your action is saved. Reload the page to see it.");
    } finally {
      button.disabled = false;
    }
  });
})();
