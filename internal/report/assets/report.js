// Draws the loadrig report's charts from the inline LOADRIG data with the
// inline uPlot. Loads nothing.
(function () {
  "use strict";
  const palette = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#953800", "#57606a"];
  const width = (el) => Math.max(360, Math.min(1150, el.parentElement.clientWidth || 1150));
  const fmtMs = (v) => v == null ? "" : v < 1 ? (v * 1000).toFixed(0) + "µs" : v < 1000 ? v.toFixed(2) + "ms" : (v / 1000).toFixed(2) + "s";
  // The spectrum's x is log10(1/(1-p)): 0.301 is p50, 1 p90, 2 p99 ... 5 p99.999.
  const pctOf = (lx) => {
    if (lx == null) return "";
    const x = Math.pow(10, lx);
    const p = 100 * (1 - 1 / x);
    return (Math.abs(p - Math.round(p)) < 1e-9 ? p.toFixed(0) : p.toFixed(Math.max(0, Math.ceil(Math.log10(x)) - 2))) + "%";
  };

  LOADRIG.forEach((D, si) => {
    const P = "s" + si + "-";
    // Percentile spectrum: x = 1/(1-p) on a log axis, ticks at 50 %, 90 %, 99 % ...
    (function spectrum() {
      const el = document.getElementById(P + "spectrum");
      const s = D.spectrum;
      if (!el || !s.names.length) return;
      const series = [{ label: "percentile", value: (u, v) => v == null ? "-" : pctOf(v) }];
      const lx = s.x.map((x) => Math.log10(x));
      s.names.forEach((n, i) => series.push({
        label: n + (s.exact[i] ? "" : " (summary percentiles)"), stroke: palette[i % palette.length], width: 2,
        dash: s.exact[i] ? undefined : [6, 4], value: (u, v) => fmtMs(v), spanGaps: false,
      }));
      new uPlot({
        width: width(el), height: 360, series,
        scales: { x: { time: false, range: [Math.log10(2), 5] }, y: { distr: 3, log: 10 } },
        axes: [
          { splits: () => [Math.log10(2), 1, 2, 3, 4, 5], values: (u, vs) => vs.map(pctOf), label: "percentile" },
          { values: (u, vs) => vs.map(fmtMs), size: 70, label: "latency" },
        ],
        cursor: { drag: { x: false, y: false } },
      }, [lx].concat(s.series), el);
    })();

    // One timeline per result: offered and completed rps, errors/s (left), p99 (right).
    D.timelines.forEach((t, i) => {
      const el = document.getElementById(P + "timeline-" + i);
      if (!el) return;
      new uPlot({
        width: width(el), height: 260,
        series: [
          { label: "t", value: (u, v) => v == null ? "-" : v.toFixed(0) + "s" },
          { label: "offered/s", stroke: "#8c959f", width: 1.5, dash: [5, 3], scale: "rps" },
          { label: "completed/s", stroke: "#0969da", width: 2, scale: "rps" },
          { label: "errors/s", stroke: "#cf222e", width: 1.5, scale: "rps" },
          { label: "p99", stroke: "#8250df", width: 1.5, scale: "ms", value: (u, v) => fmtMs(v) },
        ],
        scales: { x: { time: false }, rps: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.05)] }, ms: { range: (u, lo, hi) => [0, Math.max(0.001, hi * 1.1)] } },
        axes: [
          { values: (u, vs) => vs.map((v) => v + "s"), label: "seconds", incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200] },
          { scale: "rps", label: "per second", size: 60 },
          { scale: "ms", side: 1, values: (u, vs) => vs.map(fmtMs), grid: { show: false }, label: "p99", size: 70 },
        ],
      }, [t.t, t.offered, t.completed, t.errors, t.p99], el);
    });

    // Side by side: p50 and p99 bars, then throughput bars, one slot per result.
    (function bars() {
      const b = D.bars;
      if (!b) return;
      const xs = b.names.map((_, i) => i);
      const bar = (align) => uPlot.paths.bars({ size: [0.35, 80], align: align });
      // Labels slant to end at their bar once they crowd: steeper for many
      // (a compare directory's runs), with room below for the longest.
      const tilt = b.names.length > 4;
      const angle = b.names.length > 8 ? 65 : 35;
      const longest = Math.max(...b.names.map((n) => n.length));
      const below = Math.min(220, 16 + 6.5 * longest * Math.sin(angle * Math.PI / 180));
      const xAxis = { splits: () => xs, values: (u, vs) => vs.map((v) => b.names[v] || ""), gap: 6, rotate: tilt ? angle : 0, align: tilt ? 2 : 0, size: tilt ? Math.max(100, below) : 40 };
      const range = { x: { time: false, range: [-0.6, xs.length - 0.4] } };
      const l = document.getElementById(P + "bars-latency");
      new uPlot({
        width: Math.max(360, width(l) / 2 - 8), height: 280, scales: Object.assign({ y: { range: (u, lo, hi) => [0, hi * 1.1] } }, range),
        series: [
          { label: "result", value: (u, v) => b.names[v] || "-" },
          { label: "p50", fill: "#0969da99", stroke: "#0969da", paths: bar(-1), points: { show: false }, value: (u, v) => fmtMs(v) },
          { label: "p99", fill: "#8250df99", stroke: "#8250df", paths: bar(1), points: { show: false }, value: (u, v) => fmtMs(v) },
        ],
        axes: [xAxis, { values: (u, vs) => vs.map(fmtMs), size: 70, label: "latency" }],
      }, [xs, b.p50, b.p99], l);
      const r = document.getElementById(P + "bars-rps");
      new uPlot({
        width: Math.max(360, width(r) / 2 - 8), height: 280, scales: Object.assign({ y: { range: (u, lo, hi) => [0, hi * 1.1] } }, range),
        series: [
          { label: "result", value: (u, v) => b.names[v] || "-" },
          { label: "ok/s", fill: "#1a7f3799", stroke: "#1a7f37", paths: uPlot.paths.bars({ size: [0.5, 100] }), points: { show: false } },
        ],
        axes: [xAxis, { label: "throughput (ok/s)", size: 60 }],
      }, [xs, b.rps], r);
    })();
  });
})();
