package metrics

import (
	"strings"
	"testing"
)

func TestCheckShards(t *testing.T) {
	sh := func(i, n int, hash string) *Result {
		return &Result{Schema: Schema, Shard: &ShardInfo{Index: i, Count: n}, PlanHash: hash}
	}
	names := []string{"a", "b", "c", "d"}
	cases := []struct {
		rs      []*Result
		partial bool
		allow   bool
		want    string
	}{
		{rs: []*Result{sh(0, 3, "h"), sh(1, 3, "h"), sh(2, 3, "h")}},
		{rs: []*Result{sh(0, 3, "h"), sh(2, 3, "h")}, want: "missing shard(s) 1/3"},
		{rs: []*Result{sh(0, 3, "h"), sh(2, 3, "h")}, allow: true, partial: true},
		{rs: []*Result{sh(0, 2, "h"), sh(0, 2, "h")}, want: "shard 0/2 given twice: a and b"},
		{rs: []*Result{sh(0, 2, "h"), sh(1, 3, "h")}, want: "b is shard 1/3 but a is of 2 shards"},
		{rs: []*Result{sh(0, 2, "h"), sh(1, 2, "x")}, want: "b belongs to another plan"},
		{rs: []*Result{sh(0, 2, "h"), {Schema: Schema}}, want: "some results are shards and some are not"},
		{rs: []*Result{sh(0, 2, ""), {Schema: Schema, Shard: &ShardInfo{Index: 1, Count: 2, By: "tick"}}}, want: "b was dealt by tick but a by sequence number"},
		{rs: []*Result{{Schema: Schema, Shard: &ShardInfo{Index: 0, Count: 2, By: "tick"}}, {Schema: Schema, Shard: &ShardInfo{Index: 1, Count: 2, By: "tick"}}}},
		{rs: []*Result{{Schema: Schema, PlanHash: "p"}, {Schema: Schema, PlanHash: "q"}}, want: "another plan"},
		{rs: []*Result{{Schema: Schema}, {Schema: Schema}}},
	}
	for i, tc := range cases {
		partial, err := CheckShards(tc.rs, names, tc.allow)
		if tc.want == "" {
			if err != nil || partial != tc.partial {
				t.Errorf("case %d: partial %v err %v", i, partial, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("case %d: %v, want %q", i, err, tc.want)
		}
	}
}
