package gql_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func claims(exp time.Time) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{Issuer: "loadrig", Subject: "1", IssuedAt: jwt.NewNumericDate(exp.Add(-2 * time.Hour)), ExpiresAt: jwt.NewNumericDate(exp)}
}

func jwtHS256(t *testing.T, key string, exp time.Time) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(exp)).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jwtHS512(t *testing.T, key string, exp time.Time) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS512, claims(exp)).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jwtNone(t *testing.T, exp time.Time) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims(exp)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
