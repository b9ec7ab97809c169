package report

import (
	"encoding/base64"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func writePNG(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	png.Encode(f, image.NewGray(image.Rect(0, 0, 3, 2)))
	f.Close()
	b, _ := os.ReadFile(path)
	return b
}

// Headings, paragraphs with inline code, a pipe table, an embedded
// figure, a folded command block and a plain block come out as HTML, text
// escaped.
func TestHTML(t *testing.T) {
	dir := t.TempDir()
	img := writePNG(t, filepath.Join(dir, "fig1.png"))
	md := "# lk <report>\n\nMade by `make reproduce`\non 2 cores.\n\n## fig1\n\n![fig1](fig1.png)\n\n| model | top1 |\n|---|---|\n| lk3 | 91.05 |\n| a&b | 1 |\n\nCommands:\n\n```sh\nlk-infer --model m.onnx < x.arrow > p.arrow\n```\n\n```\nabc  testdata/zoo/lk3.onnx\n```\n"
	out, err := HTML([]byte(md), dir, "report.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"<title>lk &lt;report&gt;</title>",
		"<h1 id=\"lk-report\">lk &lt;report&gt;</h1>",
		"<p>Made by <code>make reproduce</code> on 2 cores.</p>",
		"<h2 id=\"fig1\">fig1</h2>",
		"<img src=\"data:image/png;base64," + base64.StdEncoding.EncodeToString(img) + "\" alt=\"fig1\">",
		"<thead><tr><th>model</th><th>top1</th></tr></thead>",
		"<tr><td>lk3</td><td>91.05</td></tr>",
		"<tr><td>a&amp;b</td><td>1</td></tr>",
		"<details><summary>Commands</summary><pre><code>lk-infer --model m.onnx &lt; x.arrow &gt; p.arrow</code></pre></details>",
		"<pre><code>abc  testdata/zoo/lk3.onnx</code></pre>",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
}

// What the page could not show is an error naming the line.
func TestHTMLErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ md, err string }{
		{"![x](missing.png)\n", "report.md:1: image missing.png"},
		{"text\n\n```sh\nls\n", "report.md:3: a code block that is never closed"},
		{"| a | b |\n|---|---|\n| 1 |\n", "report.md:3: 1 cells, the header has 2"},
		{"| a | b |\n| 1 | 2 |\n", "report.md:1: a table needs a header row"},
	} {
		if _, err := HTML([]byte(c.md), dir, "report.md"); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: %v, want %q", c.md, err, c.err)
		}
	}
}

// A page is made to be sent around: it embeds only regular image files
// inside the report's folder whose bytes are what their extension says;
// anything else is refused by name, and so is input that is not text.
func TestHTMLEmbedsOnlyTheReportsFigures(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "report")
	if err := os.MkdirAll(filepath.Join(dir, "fig"), 0o755); err != nil {
		t.Fatal(err)
	}
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	write := func(p string, b []byte) {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "secret.png"), png)
	write(filepath.Join(dir, "fig", "ok.png"), png)
	write(filepath.Join(dir, "text.png"), []byte("root:x:0:0:root:/root:/bin/bash\n"))
	write(filepath.Join(dir, "pic.svg"), []byte("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>\n"))
	for _, l := range []struct{ name, target string }{
		{"shadow.png", "/etc/shadow"}, {"up.png", "../secret.png"}, {"inside.png", "fig/ok.png"}} {
		if err := os.Symlink(l.target, filepath.Join(dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.png"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ ref, err string }{
		{"../secret.png", "outside the report's folder"},
		{"fig/../../secret.png", "outside the report's folder"},
		{"/etc/passwd.png", "outside the report's folder"},
		{"shadow.png", "outside the report's folder"},
		{"up.png", "outside the report's folder"},
		{"text.png", "its bytes are not image/png"},
		{"fifo.png", "not a regular file"},
		{"fig/ok.png", ""},
		{"inside.png", ""},
		{"pic.svg", ""},
	} {
		_, err := HTML([]byte("# r\n\n![f]("+c.ref+")\n"), dir, "report.md")
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want %q", c.ref, err, c.err)
		}
	}
	for _, in := range [][]byte{nil, {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, []byte("ARROW1\x00\x00")} {
		if _, err := HTML(in, dir, "in"); err == nil {
			t.Errorf("%q made a page", in)
		}
	}
}

// A table cell that holds a | (escaped by lk's Markdown tables) stays one
// cell in the page.
func TestHTMLEscapedPipe(t *testing.T) {
	page, err := HTML([]byte("| model | n |\n|---|---|\n| a\\|b | 2 |\n"), t.TempDir(), "report.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "<td>a|b</td>") {
		t.Errorf("the cell a\\|b: %s", page)
	}
}
