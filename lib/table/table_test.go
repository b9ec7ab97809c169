package table_test

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/lk-robustness/lk/lib/stream"
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

// A plot reads a long-form table pivoted by the same rule as the text
// formats: a line per group, a column per metric in first-seen order,
// empty where a group lacks the metric; n is left out.
func TestReadCellsPivotsLikeText(t *testing.T) {
	long := []table.Row{
		{Group: []string{"lk31"}, Metric: "top1", Value: 88.8, N: 10},
		{Group: []string{"resnet"}, Metric: "top1", Value: 91.5, N: 10},
		{Group: []string{"lk31"}, Metric: "mCE", Value: 117.5, N: 10},
	}
	var buf bytes.Buffer
	if err := table.Write(&buf, "arrow", []string{"model"}, long, arrow.Metadata{}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.NewReader(&buf, "t.arrow")
	if err != nil {
		t.Fatal(err)
	}
	c, err := table.ReadCells(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Names, ","); got != "model,top1,mCE" || c.Rows() != 2 {
		t.Fatalf("columns %s, %d rows; want model,top1,mCE and 2", got, c.Rows())
	}
	mce, err := c.Floats("mCE", "y")
	if err != nil {
		t.Fatal(err)
	}
	if mce[0] != 117.5 || !math.IsNaN(mce[1]) {
		t.Fatalf("mCE column %v, want [117.5 NaN]", mce)
	}
}

// A value with a | or a line break stays in its cell and its row, in
// Markdown (escaped: \| and <br>, as GitHub and lk-report read them) and
// in aligned text.
func Example_markdownEscapes() {
	table.Write(os.Stdout, "markdown", []string{"model"}, []table.Row{{Group: []string{"a|b\nc"}, Metric: "top1", Value: 50, N: 2}}, arrow.Metadata{})
	table.Write(os.Stdout, "text", []string{"model"}, []table.Row{{Group: []string{"a|b\nc"}, Metric: "top1", Value: 50, N: 2}}, arrow.Metadata{})
	// Output:
	// | model | n | top1 |
	// |---|---|---|
	// | a\|b<br>c | 2 | 50.00 |
	//  model  n   top1
	// a|b\nc  2  50.00
}
