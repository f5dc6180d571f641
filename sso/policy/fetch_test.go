package policy

import "testing"

func TestSecureFetchURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://login.example.com/metadata", true},
		{"http://127.0.0.1:8080/metadata", true},
		{"http://[::1]:8080/metadata", true},
		{"http://localhost/metadata", true},
		{"http://idp.example.com/metadata", false},
		{"http://10.0.0.1/metadata", false},
		{"ftp://idp.example.com/metadata", false},
		{"/metadata", false},
	} {
		if err := SecureFetchURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.url, err)
		}
	}
}

func TestParseSHA256Fingerprint(t *testing.T) {
	const hex64 = "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"
	for _, s := range []string{hex64, " 3F:2A:9C:0D:4E:5B:6A:7F:80:91:A2:B3:C4:D5:E6:F7:08:19:2A:3B:4C:5D:6E:7F:80:91:A2:B3:C4:D5:E6:F7 "} {
		fp, err := ParseSHA256Fingerprint(s)
		if err != nil || fp[0] != 0x3f || fp[31] != 0xf7 {
			t.Errorf("%q: %x %v", s, fp, err)
		}
	}
	for _, s := range []string{"", "3f2a", hex64 + "00", "zz" + hex64[2:]} {
		if _, err := ParseSHA256Fingerprint(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}
