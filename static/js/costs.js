// Charts of a story's costs (Chart.js, vendored in static/vendor).
(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const ink = getComputedStyle(document.documentElement).getPropertyValue("--fg").trim() || "#1f1d2b";
  const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#4b3f9e";
  Chart.defaults.color = ink;
  Chart.defaults.animation = false;
  const options = { responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false } } };
  new Chart(document.getElementById("agent-chart"), {
    type: "bar",
    data: { labels: data.agents, datasets: [{ label: "tokens", data: data.agent_tokens, backgroundColor: accent }] },
    options,
  });
  const days = document.getElementById("day-chart");
  if (days) {
    new Chart(days, {
      type: "bar",
      data: { labels: data.days, datasets: [{ label: "tokens", data: data.day_tokens, borderColor: accent, backgroundColor: accent }] },
      options,
    });
  }
})();
