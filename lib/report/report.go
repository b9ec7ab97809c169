// Package report turns the Markdown report that make reproduce writes into
// one self-contained HTML page: figures embedded as data URIs, tables as
// HTML tables, each target's shell commands folded under its results. It
// reads the Markdown subset the report uses (headings, paragraphs, pipe
// tables, fenced code blocks, images on their own line, inline code) and
// refuses anything it would otherwise drop.
package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"
)

var (
	imageLine  = regexp.MustCompile(`^!\[([^\]]*)\]\(([^)]+)\)$`)
	inlineCode = regexp.MustCompile("`([^`]+)`")
	tableSep   = regexp.MustCompile(`^\|(\s*:?-+:?\s*\|)+$`)
	nonWord    = regexp.MustCompile(`[^a-z0-9]+`)
)

// HTML converts the report md; images are read relative to dir. name
// names the input in errors ("report.md:12: ...").
func HTML(md []byte, dir, name string) ([]byte, error) {
	if len(md) == 0 {
		return nil, fmt.Errorf("%s: empty: want a Markdown report", name)
	}
	if !utf8.Valid(md) || bytes.IndexByte(md, 0) >= 0 {
		return nil, fmt.Errorf("%s: not text (binary bytes): want a Markdown report, such as lk-plot's report.md", name)
	}
	var b bytes.Buffer
	lines := strings.Split(strings.ReplaceAll(string(md), "\r\n", "\n"), "\n")
	title := "lk report"
	for _, l := range lines {
		if strings.HasPrefix(l, "# ") {
			title = strings.TrimPrefix(l, "# ")
			break
		}
	}
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n", html.EscapeString(title), style)
	var para []string
	flush := func() {
		if len(para) > 0 {
			fmt.Fprintf(&b, "<p>%s</p>\n", inline(strings.Join(para, " ")))
			para = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l)
		switch {
		case t == "":
			flush()
		case strings.HasPrefix(t, "```"):
			flush()
			lang := strings.TrimPrefix(t, "```")
			var code []string
			j := i + 1
			for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
				code = append(code, lines[j])
			}
			if j == len(lines) {
				return nil, fmt.Errorf("%s:%d: a code block that is never closed", name, i+1)
			}
			pre := "<pre><code>" + html.EscapeString(strings.Join(code, "\n")) + "</code></pre>"
			if lang == "sh" { // the commands that made a result: folded
				if p := "<p>Commands:</p>\n"; bytes.HasSuffix(b.Bytes(), []byte(p)) { // the summary says it
					b.Truncate(b.Len() - len(p))
				}
				fmt.Fprintf(&b, "<details><summary>Commands</summary>%s</details>\n", pre)
			} else {
				b.WriteString(pre + "\n")
			}
			i = j
		case strings.HasPrefix(t, "#"):
			flush()
			level := len(t) - len(strings.TrimLeft(t, "#"))
			if level > 6 || len(t) <= level || t[level] != ' ' {
				return nil, fmt.Errorf("%s:%d: %q is not a heading", name, i+1, t)
			}
			text := strings.TrimSpace(t[level:])
			fmt.Fprintf(&b, "<h%d id=\"%s\">%s</h%d>\n", level, anchor(text), inline(text), level)
		case imageLine.MatchString(t):
			flush()
			m := imageLine.FindStringSubmatch(t)
			uri, err := dataURI(dir, m[2])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: image %s: %v", name, i+1, m[2], err)
			}
			fmt.Fprintf(&b, "<figure><img src=\"%s\" alt=\"%s\"></figure>\n", uri, html.EscapeString(m[1]))
		case strings.HasPrefix(t, "|"):
			flush()
			j := i
			var rows []string
			for ; j < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[j]), "|"); j++ {
				rows = append(rows, strings.TrimSpace(lines[j]))
			}
			if len(rows) < 2 || !tableSep.MatchString(rows[1]) {
				return nil, fmt.Errorf("%s:%d: a table needs a header row and a |---| row under it", name, i+1)
			}
			b.WriteString("<table>\n<thead><tr>")
			head := cells(rows[0])
			for _, c := range head {
				fmt.Fprintf(&b, "<th>%s</th>", inline(c))
			}
			b.WriteString("</tr></thead>\n<tbody>\n")
			for k, r := range rows[2:] {
				cs := cells(r)
				if len(cs) != len(head) {
					return nil, fmt.Errorf("%s:%d: %d cells, the header has %d", name, i+3+k, len(cs), len(head))
				}
				b.WriteString("<tr>")
				for _, c := range cs {
					fmt.Fprintf(&b, "<td>%s</td>", inline(c))
				}
				b.WriteString("</tr>\n")
			}
			b.WriteString("</tbody>\n</table>\n")
			i = j - 1
		default:
			para = append(para, t)
		}
	}
	flush()
	b.WriteString("</body>\n</html>\n")
	return b.Bytes(), nil
}

// cells splits a Markdown table row at its unescaped |s and unescapes
// each cell (\| and \\, as lk's tables write them).
func cells(row string) []string {
	row = strings.TrimPrefix(strings.TrimSpace(row), "|")
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch c := row[i]; {
		case c == '\\' && i+1 < len(row) && (row[i+1] == '|' || row[i+1] == '\\'):
			cur.WriteByte(row[i+1])
			i++
		case c == '|':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		parts = append(parts, rest)
	}
	return parts
}

// inline escapes text and renders `code`.
func inline(s string) string {
	return inlineCode.ReplaceAllString(html.EscapeString(s), "<code>$1</code>")
}

func anchor(s string) string {
	return strings.Trim(nonWord.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// maxFigureBytes bounds a figure embedded in a page.
const maxFigureBytes = 64 << 20

// dataURI embeds the figure ref names relative to dir. The page is made
// to be sent around, so only what belongs to the report goes in: a
// regular file inside dir (links resolved, no way out by ..), whose bytes
// are the image format its extension says.
func dataURI(dir, ref string) (string, error) {
	clean := filepath.Clean(ref)
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("outside the report's folder: only figures beside the report or below it are embedded")
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	path, err := filepath.EvalSymlinks(filepath.Join(dir, clean))
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(root, path); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("a link to %s, outside the report's folder: only figures inside it are embedded", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("not a regular file")
	}
	if st.Size() > maxFigureBytes {
		return "", fmt.Errorf("%d bytes, over the %d a page embeds", st.Size(), maxFigureBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if len(data) == 0 {
		return "", fmt.Errorf("empty file")
	}
	ext := strings.ToLower(filepath.Ext(path))
	typ := map[string]string{".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}[ext]
	if typ == "" {
		return "", fmt.Errorf("not an image type (%q)", filepath.Ext(path))
	}
	if !isFormat(typ, data) {
		return "", fmt.Errorf("its bytes are not %s, as its extension %s says", typ, ext)
	}
	return "data:" + typ + ";base64," + base64.StdEncoding.EncodeToString(data), nil
}

// isFormat checks an image's first bytes against its type.
func isFormat(typ string, data []byte) bool {
	switch typ {
	case "image/png":
		return bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n"))
	case "image/jpeg":
		return bytes.HasPrefix(data, []byte{0xff, 0xd8, 0xff})
	case "image/svg+xml":
		head := data[:min(len(data), 4096)]
		return utf8.Valid(head) && bytes.Contains(head, []byte("<svg"))
	}
	return false
}

const style = `body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2em}
figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #ddd}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}thead{background:#f0f0f0}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:85%}details{margin:.5em 0}summary{cursor:pointer;color:#335}`
