package main

import (
	"reflect"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::1", true},
		{"localhost", true},
		{"10.0.0.1", false},
		{"192.168.1.1", false},
		{"8.8.8.8", false},
		{"example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isLoopback(tt.host); got != tt.want {
			t.Errorf("isLoopback(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestSizeList(t *testing.T) {
	var s sizeList
	if err := s.Set("1024, 65536,0"); err != nil {
		t.Fatal(err)
	}
	if want := (sizeList{1024, 65536, 0}); !reflect.DeepEqual(s, want) {
		t.Errorf("got %v, want %v", s, want)
	}
	for _, bad := range []string{"", "x", "-1", "1,,2"} {
		if err := s.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}
