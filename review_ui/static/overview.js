// 总览 charts (Apache ECharts from static/vendor): data from the page's JSON block, each point linking to its
// report. Tooltips are drawn on the canvas (renderMode "richText"): an HTML tooltip would need inline styles,
// which the Content-Security-Policy refuses.
(function () {
  "use strict";
  var block = document.getElementById("overview-data");
  if (!block || typeof echarts === "undefined") return;
  var data = JSON.parse(block.textContent);
  var documentUrl = block.dataset.documentUrl || "/documents/SHA";
  function open(sha) { if (sha) window.location.href = documentUrl.replace("SHA", sha); }
  var tooltip = { renderMode: "richText", confine: true };
  var builders = {
    scores: function (d) {
      return { tooltip: Object.assign({ trigger: "axis" }, tooltip), grid: { left: 48, right: 16, top: 40, bottom: 40 },
        xAxis: { type: "category", data: d.bins, name: "自评得分", nameLocation: "middle", nameGap: 28 },
        yAxis: { type: "value", name: "报告数", minInterval: 1 },
        series: [{ type: "bar", name: "报告数", data: d.counts, itemStyle: { color: "#3b6fb6" } }] };
    },
    score_execution: function (d) {
      var normal = d.points.filter(function (p) { return !p[4]; });
      var odd = d.points.filter(function (p) { return p[4]; });
      function fmt(p) { return p.data[2] + "\n预算执行率 " + p.data[0] + "%，自评得分 " + p.data[1]; }
      return { tooltip: Object.assign({ trigger: "item", formatter: fmt }, tooltip),
        grid: { left: 48, right: 32, top: 40, bottom: 44 },
        xAxis: { type: "value", name: "预算执行率（%）", nameLocation: "middle", nameGap: 28,
                 min: function (v) { return Math.max(0, Math.floor(v.min - 5)); },
                 max: function (v) { return Math.ceil(v.max + 2); } },
        yAxis: { type: "value", name: "自评得分", min: function (v) { return Math.max(0, Math.floor(v.min - 3)); },
                 max: function (v) { return Math.min(100, Math.ceil(v.max + 2)); } },
        series: [
          { type: "scatter", name: "报告", data: normal, symbolSize: 10, itemStyle: { color: "#3b6fb6" },
            markLine: { silent: true, symbol: "none", lineStyle: { type: "dashed", color: "#999" },
                        data: [{ xAxis: d.low_execution }, { yAxis: d.high_score }] } },
          { type: "scatter", name: "异常", data: odd, symbolSize: 14, itemStyle: { color: "#c0392b" } }
        ] };
    },
    sangong: function (d) {
      return { tooltip: Object.assign({ trigger: "axis" }, tooltip), legend: { data: ["本年", "上年"] },
        grid: { left: 56, right: 16, top: 32, bottom: 80 },
        xAxis: { type: "category", data: d.units, axisLabel: { rotate: 30, interval: 0 } },
        yAxis: { type: "value", name: "万元" },
        series: [{ type: "bar", name: "本年", data: d.this_year, itemStyle: { color: "#3b6fb6" } },
                 { type: "bar", name: "上年", data: d.last_year, itemStyle: { color: "#9fb7d9" } }] };
    },
    indicators: function (d) {
      return { tooltip: Object.assign({ trigger: "axis" }, tooltip), grid: { left: 180, right: 24, top: 16, bottom: 32 },
        xAxis: { type: "value", name: "报告数", minInterval: 1 },
        yAxis: { type: "category", data: d.names.slice().reverse(), axisLabel: { width: 170, overflow: "truncate" } },
        series: [{ type: "bar", name: "未得满分的报告数", data: d.below.slice().reverse(), itemStyle: { color: "#d68910" } }] };
    }
  };
  var links = {
    score_execution: function (p) { return p.data[3]; },
    sangong: function (p, d) { return d.sha256[p.dataIndex]; },
    indicators: function (p, d) { return d.sha256[d.sha256.length - 1 - p.dataIndex]; }
  };
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var key = el.dataset.chart;
    if (!builders[key] || !data[key]) return;
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(builders[key](data[key]));
    if (links[key]) chart.on("click", function (p) { open(links[key](p, data[key])); });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
