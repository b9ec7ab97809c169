package stream

// WidenPipe lets the benchmarks give their pipes the buffer lk's readers
// and writers ask for.
var WidenPipe = widenPipe
