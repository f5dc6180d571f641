// Command ldapgen writes the reader benchmark's directory as LDIF, for
// slapadd -q (see package ldapgen).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/dirbridge/dirbridge/bench/ldapgen"
)

func main() {
	var o ldapgen.Options
	out := flag.String("out", "-", "output file (- for stdout)")
	flag.StringVar(&o.BaseDN, "base", "dc=example,dc=org", "base DN")
	flag.IntVar(&o.Users, "users", 100000, "users")
	flag.IntVar(&o.Groups, "groups", 5000, "groups")
	flag.Parse()
	w := os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ldapgen:", err)
			os.Exit(1)
		}
		w = f
	}
	res, err := ldapgen.Write(w, o)
	if w != os.Stdout {
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ldapgen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "ldapgen: %d users, %d groups, %d memberships\n", res.Users, res.Groups, res.Memberships)
}
