package table_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/table"
)

var rows = []table.Row{
	{Group: []string{"lk31", "gaussian_noise"}, Metric: "top1", Value: 71.234, N: 500},
	{Group: []string{"lk31", "gaussian_noise"}, Metric: "xent", Value: 1.5, N: 500},
	{Group: []string{"resnet", "gaussian_noise"}, Metric: "top1", Value: 60, N: 500},
	{Group: []string{"resnet", "gaussian_noise"}, Metric: "xent", Value: 2.25, N: 500},
}

func Example_markdown() {
	table.Write(os.Stdout, "markdown", []string{"model", "corruption"}, rows, arrow.Metadata{})
	// Output:
	// | model | corruption | n | top1 | xent |
	// |---|---|---|---|---|
	// | lk31 | gaussian_noise | 500 | 71.23 | 1.50 |
	// | resnet | gaussian_noise | 500 | 60.00 | 2.25 |
}

func Example_csv() {
	table.Write(os.Stdout, "csv", []string{"model"}, []table.Row{{Group: []string{"a,b"}, Metric: "top1", Value: 50, N: 2}}, arrow.Metadata{})
	// Output:
	// model,n,top1
	// "a,b",2,50.00
}

// Text is right-aligned in columns (an example's output would lose the
// first line's leading spaces, so this is a test).
func TestText(t *testing.T) {
	var b bytes.Buffer
	if err := table.Write(&b, "text", []string{"model", "corruption"}, rows, arrow.Metadata{}); err != nil {
		t.Fatal(err)
	}
	want := " model      corruption    n   top1  xent\n" +
		"  lk31  gaussian_noise  500  71.23  1.50\n" +
		"resnet  gaussian_noise  500  60.00  2.25\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if err := table.Write(&b, "xml", nil, rows, arrow.Metadata{}); err == nil {
		t.Error("unknown format accepted")
	}
}
