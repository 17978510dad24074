// Charts in the authors' admin pages (Chart.js, vendored in static/vendor).
(function () {
  Chart.defaults.animation = false;
  const options = { responsive: true, maintainAspectRatio: false };
  const testPlay = document.getElementById("test-play-data");
  if (testPlay) {
    const data = JSON.parse(testPlay.textContent);
    new Chart(document.getElementById("divergence-chart"), {
      type: "line",
      data: { labels: data.turns, datasets: [{ label: "divergence", data: data.divergence, borderColor: "#4b3f9e" }] },
      options: { ...options, scales: { y: { min: 0, max: 1 } } },
    });
  }
  const analytics = document.getElementById("analytics-data");
  if (analytics) {
    const data = JSON.parse(analytics.textContent);
    const series = [["natural", "#1e7b3a"], ["adapted", "#9a6200"], ["alternate", "#4b3f9e"], ["open", "#999"]];
    new Chart(document.getElementById("analytics-chart"), {
      type: "bar",
      data: { labels: data.titles, datasets: series.map(([key, color]) => ({ label: key, data: data[key], backgroundColor: color })) },
      options: { ...options, scales: { x: { stacked: true }, y: { stacked: true } } },
    });
  }
})();
