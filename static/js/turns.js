// The turn tools (versions, reroll, undo/redo, edit) update the story page in place: the form is
// posted with fetch, the server answers the changed articles (_turns_update.html), and they are
// swapped in with the scroll position kept. Without JavaScript the forms post and redirect to #turn-N.
// Also: ArrowLeft/ArrowRight and a horizontal swipe on the last passage move between its versions.
(function () {
  "use strict";
  const turns = document.getElementById("turns");
  if (!turns || !window.fetch || !window.DOMParser) return;
  let busy = false;

  function swap(html) {
    const update = new DOMParser().parseFromString(html, "text/html").getElementById("turns-update");
    if (!update) return false;
    const hadForm = Boolean(document.getElementById("action-form"));
    if (hadForm !== (update.dataset.canPlay === "1")) return false;  // the action box changes: load the page
    const last = Number(update.dataset.last);
    turns.querySelectorAll("article.turn").forEach((article) => {
      if (Number(article.dataset.number) > last) article.remove();
    });
    const notice = document.getElementById("turn-notice");
    update.querySelectorAll("article.turn").forEach((fresh) => {
      const current = document.getElementById(fresh.id);
      if (current) current.replaceWith(fresh);
      else if (notice) notice.before(fresh);
      else turns.append(fresh);
    });
    const freshNotice = update.querySelector("#turn-notice");
    if (notice && freshNotice) notice.replaceWith(freshNotice);
    // Regions the page always has, whole: a chapters panel the turn brought (or took away) comes with its region.
    for (const id of ["story-state", "chapters-panel"]) {
      const shown = document.getElementById(id);
      const fresh = update.querySelector("#" + id);
      if (shown && fresh) shown.replaceWith(fresh);
    }
    return true;
  }

  async function submit(form, submitter) {
    if (busy) return;
    busy = true;
    const scrollY = window.scrollY;
    const buttons = form.querySelectorAll("button");
    buttons.forEach((button) => { button.disabled = true; });
    form.setAttribute("aria-busy", "true");
    try {
      // getAttribute: the edit form has a field named "action", which shadows form.action.
      const response = await fetch(form.getAttribute("action"), {
        method: "POST", body: new FormData(form, submitter), credentials: "same-origin",
        headers: {"X-Turn-Tools": "1"},
      });
      if (!response.ok || !swap(await response.text())) {
        window.location.reload();
        return;
      }
      window.scrollTo(window.scrollX, scrollY);
    } catch (error) {
      form.removeAttribute("aria-busy");
      buttons.forEach((button) => { button.disabled = false; });
      form.submit();  // the network failed: let the browser post it the plain way
    } finally {
      busy = false;
    }
  }

  turns.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-turn-tool")) return;
    event.preventDefault();
    submit(form, event.submitter);
  });

  // The last passage's version arrows, from the keyboard and by swiping.
  function step(direction) {
    const versions = turns.querySelectorAll(".versions");
    const last = versions[versions.length - 1];
    if (!last) return false;
    const button = last.querySelector(direction < 0 ? ".version-previous" : ".version-next");
    if (!button || button.disabled) return false;
    submit(button.form, button);
    return true;
  }

  function typing(target) {
    return target instanceof Element && Boolean(target.closest("input, textarea, select, [contenteditable]"));
  }

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || typing(event.target)) return;
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    if (step(event.key === "ArrowLeft" ? -1 : 1)) event.preventDefault();
  });

  let start = null;
  turns.addEventListener("touchstart", (event) => {
    const prose = event.target instanceof Element && event.target.closest("article.turn .prose");
    const article = prose && prose.closest("article.turn");
    start = article && article.querySelector(".versions") && event.touches.length === 1
      ? {x: event.touches[0].clientX, y: event.touches[0].clientY} : null;
  }, {passive: true});
  turns.addEventListener("touchend", (event) => {
    if (!start || !event.changedTouches.length) return;
    const dx = event.changedTouches[0].clientX - start.x;
    const dy = event.changedTouches[0].clientY - start.y;
    start = null;
    // A deliberate sideways swipe, not a scroll: swipe left for the next version, right for the previous.
    if (Math.abs(dx) > 60 && Math.abs(dx) > 2 * Math.abs(dy)) step(dx < 0 ? 1 : -1);
  });
})();
