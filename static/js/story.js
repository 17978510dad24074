// The story page. The new passage streams in as the Writer writes it (server-sent events over fetch, since
// EventSource cannot POST), with who is at work and for how long, and a Stop that keeps or discards what was
// written; the finished turn is then put in place without a reload, so the page does not jump.
// Small screens: the side column is a drawer and the page opens at the newest passage.
// Without JavaScript the form posts and the page redirects to the turn; the drawer stays open.
(function () {
  const drawer = document.querySelector(".story-drawer");
  if (drawer && window.matchMedia("(max-width: 61.99rem)").matches) drawer.open = false;

  const turns = document.getElementById("turns");
  // Opened without an anchor (from My stories, or after a reload): at the newest passage, not at turn 1.
  if (turns && !window.location.hash && !new URLSearchParams(window.location.search).has("page")) {
    const last = turns.querySelector("article.turn:last-of-type");
    if (last) last.scrollIntoView({ block: "start" });
  }

  const firstForm = document.getElementById("action-form");
  if (!firstForm || !window.fetch || !window.TextDecoder || !window.DOMParser) return;
  const storyUrl = firstForm.dataset.storyUrl;
  const streamUrl = firstForm.dataset.streamUrl;
  const turnsUrl = firstForm.dataset.turnsUrl;
  const AT_WORK = { planning: "the Strategist is planning", writing: "the Writer is writing" };

  let playing = null; // the turn being written: {number, action, stage, started, timer, stopAsked}

  const byId = (id) => document.getElementById(id);
  const csrf = () => document.querySelector("#action-form input[name=csrfmiddlewaretoken]").value;

  function showError(message) {
    const box = byId("stream-error");
    box.textContent = message;
    box.hidden = false;
  }

  function showStatus() {
    const seconds = Math.floor((performance.now() - playing.started) / 1000);
    const who = playing.stopAsked ? "stopping" : AT_WORK[playing.stage] || "sending your action";
    byId("writing-status").textContent = "Writing… " + seconds + " s — " + who;
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
    const empty = turns.querySelector(".empty");
    if (empty) empty.remove();
    turns.append(article);
    article.scrollIntoView({ block: "nearest" });
    return prose;
  }

  // Forms carry a fresh CSRF token each time the page is drawn: compared without it, unchanged turns stay.
  const withoutTokens = (html) => html.replace(/name="csrfmiddlewaretoken" value="[^"]*"/g, "");

  function adopt(node) {
    const copy = document.importNode(node, true);
    if (window.htmx) window.htmx.process(copy);
    return copy;
  }

  // The page as the server draws it now: its turns, action box, state and chapters replace the ones shown,
  // each where it is, so the reader's place on the page stays.
  async function refresh() {
    const response = await fetch(storyUrl, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const freshTurns = fresh.getElementById("turns");
    const kept = new Set();
    for (const article of freshTurns.querySelectorAll(":scope > article")) {
      kept.add(article.id);
      const shown = byId(article.id);
      if (!shown) turns.append(adopt(article));
      else if (withoutTokens(shown.outerHTML) !== withoutTokens(article.outerHTML)) shown.replaceWith(adopt(article));
    }
    for (const article of turns.querySelectorAll(":scope > article")) if (!kept.has(article.id)) article.remove();
    if (!kept.size && !turns.querySelector(".empty")) {
      const empty = freshTurns.querySelector(".empty");
      if (empty) turns.append(adopt(empty));
    }
    // The chapters' region is always on the page, so a panel the turn brought for the first time comes too.
    for (const id of ["play-area", "story-state", "chapters-panel"]) {
      const part = fresh.getElementById(id);
      if (part && byId(id)) byId(id).replaceWith(adopt(part));
    }
    const latest = fresh.querySelector(".jump-latest");
    for (const link of document.querySelectorAll(".jump-latest")) if (latest) link.href = latest.href;
  }

  function endPlaying() {
    clearInterval(playing.timer);
    playing = null;
    turns.removeAttribute("aria-busy");
  }

  async function finish(restoreAction) {
    try {
      await refresh();
    } catch (error) {
      showError("The turn is saved, but the page could not be updated. Reload it to see the turn.");
    }
    if (restoreAction !== undefined) {
      const box = document.querySelector("#action-form textarea[name=action]");
      if (box) {
        box.value = restoreAction;
        box.focus();
      }
    }
    endPlaying();
  }

  async function askStop() {
    const stop = byId("stop-button");
    stop.disabled = true;
    playing.stopAsked = true;
    showStatus();
    if (playing.number === undefined) return; // sent once the turn has its number
    const response = await fetch(turnsUrl + playing.number + "/stop/", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() },
    });
    // 409: the turn was finished before the Stop arrived; the stream's end says so.
    if (!response.ok && response.status !== 409) showError("The Stop did not reach the server (HTTP " + response.status + ").");
  }

  async function discard() {
    const action = playing.action;
    const response = await fetch(turnsUrl + "last/", {
      method: "DELETE", credentials: "same-origin", headers: { "X-CSRFToken": csrf() },
    });
    if (!response.ok) showError("The turn could not be discarded (HTTP " + response.status + "); undo it below.");
    await finish(response.ok ? action : undefined);
  }

  function chooseAfterStop() {
    byId("writing-status").hidden = true;
    byId("stop-button").hidden = true;
    byId("stop-choice").hidden = false;
    byId("stop-keep").focus();
  }

  async function play(form) {
    const textarea = form.querySelector("textarea[name=action]");
    const button = form.querySelector("button[type=submit]");
    byId("stream-error").hidden = true;
    button.disabled = true;
    turns.setAttribute("aria-busy", "true");
    playing = { action: textarea.value, started: performance.now(), stopAsked: false };
    playing.timer = setInterval(showStatus, 1000);
    showStatus();
    byId("writing-status").hidden = false;
    const stop = byId("stop-button");
    stop.hidden = false;
    stop.disabled = false;
    let prose = null;
    try {
      const response = await fetch(streamUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify({ action: textarea.value, idempotency_key: form.querySelector("input[name=idempotency_key]").value }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error(body.detail || "The turn could not be played (HTTP " + response.status + ").");
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
          if (kind === "turn") {
            playing.number = data.number;
            prose = newTurnElement(data);
            if (playing.stopAsked) askStop();
          } else if (kind === "stage") {
            playing.stage = data.stage;
            showStatus();
          } else if (kind === "text" && prose) {
            prose.textContent += data.text;
          } else if (kind === "done") {
            clearInterval(playing.timer);
            if (data.stopped && data.status === "completed") chooseAfterStop();
            else if (data.stopped) await discard(); // nothing was written: nothing to keep
            else await finish();
            return;
          }
        }
      }
      throw new Error("The connection closed before the passage was finished; your action is saved. Reload the page.");
    } catch (error) {
      showError(error instanceof TypeError ? "The connection was lost; your action is saved. Reload the page to see it." : error.message);
      byId("writing-status").hidden = true;
      stop.hidden = true;
      button.disabled = false;
      if (playing) endPlaying();
    }
  }

  document.addEventListener("submit", (event) => {
    if (event.target.id !== "action-form") return;
    event.preventDefault();
    if (!playing) play(event.target);
  });
  document.addEventListener("keydown", (event) => {
    if (event.target.matches("#action-form textarea") && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.target.form.requestSubmit();
    }
  });
  document.addEventListener("click", (event) => {
    if (!playing) return;
    if (event.target.id === "stop-button") askStop();
    if (event.target.id === "stop-keep") finish();
    if (event.target.id === "stop-discard") discard();
  });
})();
