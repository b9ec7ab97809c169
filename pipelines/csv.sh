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

# md_mean FILE...: one target's markdown tables, made once per seed (the
# same lines, rows and columns), merged cell by cell: a cell that is a
# number in every file becomes "mean±sd" (sample standard deviation, n-1)
# with as many decimals as the inputs had; other cells that agree are kept
# and those that differ are listed "a / b / c". Lines outside the tables
# must agree (a differing caption is an error, not a merge).
md_mean() {
  awk '
    function trim(s) { sub(/^ +/, "", s); sub(/ +$/, "", s); return s }
    function decimals(s) { return index(s, ".") ? length(s) - index(s, ".") : 0 }
    FNR == 1 { f++; name[f] = FILENAME }
    { line[f, FNR] = $0; n[f] = FNR }
    END {
      for (i = 2; i <= f; i++) if (n[i] != n[1]) { printf "md_mean: %s has %d lines, %s has %d\n", name[i], n[i], name[1], n[1] > "/dev/stderr"; exit 1 }
      for (l = 1; l <= n[1]; l++) {
        first = line[1, l]
        if (f == 1 || first !~ /^\|/ || first ~ /^\|(---\|)+$/) {
          for (i = 2; i <= f; i++) if (line[i, l] != first) { printf "md_mean: line %d of %s and %s differ:\n%s\n%s\n", l, name[1], name[i], first, line[i, l] > "/dev/stderr"; exit 1 }
          print first; continue
        }
        nc = split(first, c, "|")
        for (i = 1; i <= f; i++) {
          if (split(line[i, l], cells, "|") != nc) { printf "md_mean: line %d of %s has another number of cells than in %s\n", l, name[i], name[1] > "/dev/stderr"; exit 1 }
          for (k = 2; k < nc; k++) v[i, k] = trim(cells[k])
        }
        out = "|"
        for (k = 2; k < nc; k++) {
          num = 1; same = 1; d = 0; sum = 0; list = v[1, k]
          for (i = 1; i <= f; i++) {
            if (v[i, k] !~ /^-?[0-9]+(\.[0-9]+)?$/) num = 0
            else { sum += v[i, k]; if (decimals(v[i, k]) > d) d = decimals(v[i, k]) }
            if (v[i, k] != v[1, k]) same = 0
            if (i > 1) list = list " / " v[i, k]
          }
          if (num) {
            mean = sum / f; ss = 0
            for (i = 1; i <= f; i++) ss += (v[i, k] - mean) ^ 2
            cell = sprintf("%." d "f±%." d "f", mean, sqrt(ss / (f - 1)))
          } else cell = same ? v[1, k] : list
          out = out " " cell " |"
        }
        print out
      }
    }' "$@"
}

# md_apart A B FILE...: under md_mean's table, whether rows A and B (first
# cells) differ beyond the seeds: for each numeric column, both rows' min-max
# over the FILEs (one per seed) and "higher" or "lower" (A's against B's)
# when the two ranges do not overlap, else "within the spread". The
# report's claims of a difference rest on this rule. Prints nothing when a
# table lacks A or B, and leaves out (saying so) a table where A or B names
# several rows, whose ranges would pool unlike rows.
md_apart() {
  awk -v a="$1" -v b="$2" '
    function trim(s) { sub(/^ +/, "", s); sub(/ +$/, "", s); return s }
    function isnum(s) { return s ~ /^-?[0-9]+(\.[0-9]+)?$/ }
    FNR == 1 { f++; hdr = ""; prev = ""; t = 0 }
    /^\|(---\|)+$/ { hdr = prev; t++; next }
    { prev = $0 }
    /^\|/ && hdr != "" {
      nc = split($0, cells, "|"); key = trim(cells[2])
      if (key != a && key != b) next
      if (++rows[f, t, key] == 2) { dup[t] = 1; printf "md_apart: %s has several rows %s in table %d: not compared\n", FILENAME, key, t > "/dev/stderr" }
      if (!(t in head)) { split(hdr, h, "|"); for (k = 3; k < nc; k++) head[t, k] = trim(h[k]); head[t] = nc; order[++nt] = t }
      for (k = 3; k < nc; k++) {
        v = trim(cells[k]); id = t SUBSEP key SUBSEP k
        if (!isnum(v)) { bad[id] = 1; continue }
        if (!(id in lo) || v + 0 < lo[id]) { lo[id] = v + 0; los[id] = v }
        if (!(id in hi) || v + 0 > hi[id]) { hi[id] = v + 0; his[id] = v }
        cnt[id]++
      }
    }
    END {
      for (j = 1; j <= nt; j++) {
        t = order[j]; out = ""
        if (t in dup) continue
        for (k = 3; k < head[t]; k++) {
          ia = t SUBSEP a SUBSEP k; ib = t SUBSEP b SUBSEP k
          if (cnt[ia] != f || cnt[ib] != f || (ia in bad) || (ib in bad)) continue
          w = hi[ia] < lo[ib] ? "lower" : lo[ia] > hi[ib] ? "higher" : "within the spread"
          out = out (out == "" ? "" : "; ") sprintf("%s %s to %s against %s to %s, %s", head[t, k], los[ia], his[ia], los[ib], his[ib], w)
        }
        if (out != "") printf "%s against %s over the %d seeds (min to max): %s.\n", a, b, f, out
      }
    }' "${@:3}"
}
