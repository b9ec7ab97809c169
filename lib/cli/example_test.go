package cli_test

import (
	"fmt"
	"sort"

	"github.com/lk-robustness/lk/lib/cli"
)

// Severities, labels to keep and block numbers are given as ranges.
func ExampleIntSet() {
	set, err := cli.IntSet("1,3-5")
	if err != nil {
		panic(err)
	}
	var vals []int
	for v := range set {
		vals = append(vals, int(v))
	}
	sort.Ints(vals)
	fmt.Println(vals)
	_, err = cli.IntSet("1-3,3")
	fmt.Println(err)
	// Output:
	// [1 3 4 5]
	// 3 is given twice
}
