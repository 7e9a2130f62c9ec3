/* The trend charts of every college dashboard, shipped once at site/assets/college-dashboard.js.
 *
 * Draws each <div class="trend-chart" data-indicator="…"> of the page from two globals set by the
 * scripts loaded before this one (plain <script src>, which works from file:// where fetch() does not):
 *   ZHENGAI_DASHBOARD  the college's own data (dashboard-data.js beside its index.html, built by
 *                      dashboards/college.py chart_data): years, its values, threshold lines;
 *   ZHENGAI_PEERS      its school type's anonymous percentile bands (site/assets/peers/, peer_data).
 * Plotly's own box hover labels are English, so the box is silent and an invisible median marker
 * carries the Chinese hover text.
 */
(function () {
  "use strict";
  var data = window.ZHENGAI_DASHBOARD;
  var peers = (window.ZHENGAI_PEERS || {}).bands || {};
  if (!data || !window.Plotly) {
    return;
  }

  function shortNumber(value) {
    return String(Number(value.toPrecision(4)));
  }

  function bandTraces(band) {
    var shown = data.years.filter(function (year) { return band[year]; });
    if (!shown.length) {
      return [];
    }
    var rows = shown.map(function (year) { return band[year]; });
    function series(name) { return rows.map(function (row) { return row[name]; }); }
    var hover = rows.map(function (row) {
      return data.peer_label + row.peer_count + "所<br>中位数 " + shortNumber(row.p50) +
        "<br>第25–75百分位 " + shortNumber(row.p25) + "–" + shortNumber(row.p75) +
        "<br>第10–90百分位 " + shortNumber(row.p10) + "–" + shortNumber(row.p90);
    });
    return [
      {type: "box", x: shown, q1: series("p25"), median: series("p50"), q3: series("p75"),
       lowerfence: series("p10"), upperfence: series("p90"), name: "同类分布", hoverinfo: "skip",
       fillcolor: "rgba(31,95,158,0.18)", line: {color: "rgba(31,95,158,0.7)", width: 1}, width: 0.4},
      {type: "scatter", x: shown, y: series("p50"), mode: "markers", name: "同类中位数",
       marker: {size: 14, opacity: 0}, text: hover, hovertemplate: "%{text}<extra></extra>"}
    ];
  }

  function thresholdTrace(line) {
    return {type: "scatter", x: data.years, y: data.years.map(function () { return line.value; }),
            mode: "lines", name: line.name, line: {color: line.colour, dash: "dash", width: 1.5},
            hovertemplate: line.name + " %{y}<extra></extra>"};
  }

  function layout(title) {
    return {title: {text: title, font: {size: 13}, x: 0.02}, height: 240, showlegend: false,
            hovermode: "closest", font: {family: data.font, size: 12},
            margin: {l: 55, r: 10, t: 32, b: 28}, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
            xaxis: {type: "category", gridcolor: "#eee"}, yaxis: {gridcolor: "#eee", zeroline: false}};
  }

  data.charts.forEach(function (chart) {
    var box = document.getElementById("trend-" + chart.code);
    if (!box) {
      return;
    }
    var traces = bandTraces(peers[chart.code] || {}).concat(chart.thresholds.map(thresholdTrace));
    traces.push({type: "scatter", x: data.years, y: chart.values, mode: "lines+markers", name: "本校",
                 line: {color: "#222", width: 2.5}, marker: {size: 7}, hovertemplate: "本校 %{y}<extra></extra>"});
    window.Plotly.newPlot(box, traces, layout(chart.title), {displayModeBar: false, responsive: true});
  });
}());
