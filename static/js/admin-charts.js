// Charts in the authors' admin pages (Chart.js, vendored in static/vendor).
(function () {
  Chart.defaults.animation = false;
  const options = { responsive: true, maintainAspectRatio: false };
  const testPlay = document.getElementById("test-play-data");
  if (testPlay) {
    const data = JSON.parse(testPlay.textContent);
    new Chart(document.getElementById("divergence-chart"), {
      type: "line",
      // A gap in the line and a grey bar: no chapter was current that turn (not the same as on track, 0).
      data: { labels: data.turns, datasets: [
        { type: "line", label: "divergence (0 on track, 1 far away)", data: data.divergence, borderColor: "#4b3f9e", spanGaps: false },
        { type: "bar", label: "no chapter current", data: data.no_chapter, backgroundColor: "rgba(150, 150, 150, 0.35)" },
      ] },
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
