package metrics

// LateSaturation is the fraction of sends more than DefaultLateThreshold
// behind their intended start above which a result says the generator could
// not keep its schedule (MEASUREMENT.md: 1 %). The engine sets
// Generator.Saturated with it and every report repeats the warning with it,
// so the two cannot disagree.
const LateSaturation = 0.01

// ClosedModelNote is the remark every closed-model result carries (the
// engine puts it in Generator.Note) and every report prints for one.
const ClosedModelNote = "closed model: latency is service time; there is no schedule, so stalls hide inside the workers (use --rate for latency from intended start)"

// LateSaturated reports whether r's late sends cross LateSaturation.
func (r *Result) LateSaturated() bool { return r.LateSends.Fraction > LateSaturation }
