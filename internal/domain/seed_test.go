package domain

import (
	"reflect"
	"testing"
)

func TestGenerateDeterministic(t *testing.T) {
	c := Counts{Users: 20, Products: 50, ReviewsPerProduct: 3, Orders: 40}
	a, b := Generate(7, c), Generate(7, c)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed produced different datasets")
	}
	d := Generate(8, c)
	if reflect.DeepEqual(a.Products, d.Products) {
		t.Fatal("different seeds produced identical products")
	}
	if len(a.Users) != 20 || len(a.Products) != 50 || len(a.Orders) != 40 || len(a.Credentials) != 20 {
		t.Fatalf("counts: users %d products %d orders %d creds %d", len(a.Users), len(a.Products), len(a.Orders), len(a.Credentials))
	}
	for i, u := range a.Users {
		if u.ID != int64(i+1) || u.Email != "user"+itoa(u.ID)+"@example.com" || u.Version != 1 {
			t.Fatalf("user %d: %+v", i, u)
		}
		if !a.Credentials[i].Check(SeedPassword) || a.Credentials[i].Check("wrong") {
			t.Fatalf("credential %d does not check the seed password", i)
		}
	}
	cats := map[string]bool{}
	for _, c := range Categories {
		cats[c] = true
	}
	for i, p := range a.Products {
		if p.ID != int64(i+1) || !cats[p.Category] || p.Price <= 0 || p.Stock < 0 || p.Version != 1 || p.UpdatedAt.IsZero() {
			t.Fatalf("product %d: %+v", i, p)
		}
	}
	for i, r := range a.Reviews {
		if r.ID != int64(i+1) || r.ProductID < 1 || r.ProductID > 50 || r.AuthorID < 1 || r.AuthorID > 20 || r.Rating < 1 || r.Rating > 5 {
			t.Fatalf("review %d: %+v", i, r)
		}
	}
	for _, o := range a.Orders {
		sum := 0.0
		for _, it := range o.Items {
			sum += float64(it.Quantity) * it.UnitPrice
		}
		if len(o.Items) == 0 || RoundCents(sum) != o.Total || o.UserID < 1 || o.UserID > 20 {
			t.Fatalf("order %+v", o)
		}
	}
}

func itoa(n int64) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestDatasetSizes(t *testing.T) {
	for _, tc := range []struct {
		s        DatasetSize
		products int
	}{{SizeSmall, 1000}, {SizeMedium, 10000}, {SizeLarge, 100000}} {
		c, err := tc.s.Counts()
		if err != nil || c.Products != tc.products {
			t.Errorf("%s: %+v, %v", tc.s, c, err)
		}
	}
	if _, err := DatasetSize("huge").Counts(); ErrorCode(err) != CodeInvalid {
		t.Errorf("huge: %v", err)
	}
	if err := (Counts{Users: -1}).Validate(); ErrorCode(err) != CodeInvalid {
		t.Errorf("negative counts: %v", err)
	}
	if err := (Counts{Orders: 3}).Validate(); ErrorCode(err) != CodeInvalid {
		t.Errorf("orders without users: %v", err)
	}
}

func TestGenerateSmallReviewsMean(t *testing.T) {
	c, _ := SizeSmall.Counts()
	ds := Generate(1, c)
	if n := len(ds.Reviews); n < 4000 || n > 6000 {
		t.Fatalf("small dataset has %d reviews, want about 5000", n)
	}
}

func TestParseCounts(t *testing.T) {
	c, err := ParseCounts("medium")
	if err != nil || c.Products != 10_000 {
		t.Fatalf("medium: %+v %v", c, err)
	}
	c, err = ParseCounts("products=50, users=7,orders=3,reviews=1")
	if err != nil || c != (Counts{Users: 7, Products: 50, ReviewsPerProduct: 1, Orders: 3}) {
		t.Fatalf("explicit: %+v %v", c, err)
	}
	c, err = ParseCounts("products=20")
	if err != nil || c.Products != 20 || c.Users != 500 {
		t.Fatalf("partial: %+v %v", c, err)
	}
	for _, bad := range []string{"huge", "products=-1", "products=x", "widgets=3", "users=0,orders=5"} {
		if _, err := ParseCounts(bad); ErrorCode(err) != CodeInvalid {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
