// Command idp is the identity provider and its operator CLI: serve, demo,
// migrate, and user, client and key administration. It is the only place
// that wires the packages together.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "idp:", err)
		os.Exit(1)
	}
}
