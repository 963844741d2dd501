package metrics

// NewCache builds the cache section from counts, with the hit ratio
// (hits+revalidated) / (hits+misses+revalidated+other): a revalidation is a
// hit for the origin (it sent no body). It returns nil when nothing was
// classified, so a run without cache headers carries no cache section.
func NewCache(hits, misses, revalidated, other int64, source string) *Cache {
	c := &Cache{Hits: hits, Misses: misses, Revalidated: revalidated, Other: other, Source: source}
	if !c.setRatio() {
		return nil
	}
	return c
}

// HitRatioOf returns (hits+revalidated) / (hits+misses+revalidated+other), 0
// when there is no data.
func HitRatioOf(hits, misses, revalidated, other int64) float64 {
	n := hits + misses + revalidated + other
	if n <= 0 {
		return 0
	}
	return float64(hits+revalidated) / float64(n)
}

// setRatio recomputes HitRatio and reports whether any status was counted.
func (c *Cache) setRatio() bool {
	c.HitRatio = HitRatioOf(c.Hits, c.Misses, c.Revalidated, c.Other)
	return c.Hits+c.Misses+c.Revalidated+c.Other > 0
}
