# Shell helpers for the CSV tables lk-metrics and lk-summary print
# (--format csv): columns are selected by name, never by position, so a
# new column cannot shift a number into the wrong place. Sourced by
# benchmarks.sh and reproduce.sh.

# csv_get COLUMNS [NAME=VALUE ...]: the COLUMNS (comma-separated, printed
# comma-separated) of the rows of the CSV on stdin whose NAME columns hold
# VALUE (numbers compare as numbers: 0.50 matches 0.5). Quoted fields
# ("31,5,3") are read whole. A column that is not there is an error.
csv_get() {
  local cols=$1; shift
  awk -v cols="$cols" -v where="$*" '
    function fields(line, f,    n, i, ch, q, cur) {
      n = 0; cur = ""; q = 0
      for (i = 1; i <= length(line); i++) {
        ch = substr(line, i, 1)
        if (q) {
          if (ch == "\"") { if (substr(line, i + 1, 1) == "\"") { cur = cur "\""; i++ } else q = 0 } else cur = cur ch
        } else if (ch == "\"") q = 1
        else if (ch == ",") { f[++n] = cur; cur = "" }
        else cur = cur ch
      }
      f[++n] = cur
      return n
    }
    function need(name) {
      if (!(name in c)) { printf "csv_get: no column %s (columns: %s)\n", name, header > "/dev/stderr"; bad = 1; exit 1 }
    }
    NR == 1 {
      header = $0
      nf = fields($0, h)
      for (i = 1; i <= nf; i++) c[h[i]] = i
      nout = split(cols, out, ",")
      for (j = 1; j <= nout; j++) need(out[j])
      n = split(where, w, " ")
      for (j = 1; j <= n; j++) {
        eq = index(w[j], "="); k[j] = substr(w[j], 1, eq - 1); v[j] = substr(w[j], eq + 1)
        need(k[j])
      }
      next
    }
    {
      fields($0, f)
      for (j = 1; j <= n; j++) {
        x = f[c[k[j]]]; y = v[j]
        if (x != y && !(x ~ /^-?[0-9.]+$/ && y ~ /^-?[0-9.]+$/ && x + 0 == y + 0)) next
      }
      line = f[c[out[1]]]
      for (j = 2; j <= nout; j++) line = line "," f[c[out[j]]]
      print line
    }
    END { if (bad) exit 1 }'
}

# csv2md: the CSV on stdin as a markdown table.
csv2md() {
  awk -F, 'NR == 1 { h = "|"; s = "|"; for (i = 1; i <= NF; i++) { h = h " " $i " |"; s = s "---|" } print h; print s; next }
                   { l = "|"; for (i = 1; i <= NF; i++) l = l " " $i " |"; print l }'
}

# minus A B: A - B with one decimal.
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
