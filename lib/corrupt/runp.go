package corrupt

import (
	"fmt"
	"runtime"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/lk-robustness/lk/lib/progress"
	"github.com/lk-robustness/lk/lib/stream"
)

// RunSequences writes, for every image of r and every perturbation, its
// sequence of frames: rows with id "ID/PERTURBATION/FRAME", the image's
// label, the frame, and columns perturbation, seq (the image's id), frame
// and difficulty. Other input columns are not carried (a sequence has
// many rows per input row).
func RunSequences(r *stream.Reader, out stream.OutputOptions, names []string, difficulty int, o Options) error {
	cols, err := stream.Images(r.Schema())
	if err != nil {
		return fmt.Errorf("%s: %v", r.Name(), err)
	}
	sh := cols.Shape
	if sh.C != 3 {
		return &NotRGBError{Input: r.Name(), Shape: sh}
	}
	table := TableFor(sh.H, sh.W)
	if o.Table == "imagenet" {
		table = ImageNet
	} else if o.Table == "cifar" {
		table = CIFAR
	}
	md := stream.WithoutMeta(r.Schema().Metadata(), stream.MetaRows)
	md, err = stream.AddStep(md, o.Step.With("", "",
		map[string]string{"seed": strconv.FormatUint(o.Seed, 10)}))
	if err != nil {
		return err
	}
	schema := stream.ImageSchema(sh, md,
		arrow.Field{Name: stream.ColPerturbation, Type: arrow.BinaryTypes.String},
		arrow.Field{Name: stream.ColSeq, Type: arrow.BinaryTypes.String},
		arrow.Field{Name: stream.ColFrame, Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: stream.ColDifficulty, Type: arrow.PrimitiveTypes.Int64})
	wr, err := stream.Create(schema, out)
	if err != nil {
		return err
	}
	defer wr.Abort()
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	// frames counted as written, like lk-corrupt's corrupted images; the
	// total is known from the input's row count once the first record
	// tells how many frames an image makes
	meter := progress.New(o.Progress, "lk-corrupt sequences", "images", 0)
	inRows := int64(0)
	if v, ok := r.Schema().Metadata().GetValue(stream.MetaRows); ok {
		inRows, _ = strconv.ParseInt(v, 10, 64)
	}
	counted := false
	sz := sh.Size()
	cfg := Config{Table: table, Seed: o.Seed, FrostDir: o.FrostDir}
	for r.Next() {
		rec := r.Record()
		n := int(rec.NumRows())
		px, _, err := stream.Float32Rows(rec.Column(cols.Image))
		if err != nil {
			return fmt.Errorf("%s: column image: %v", r.Name(), err)
		}
		ids := rec.Column(cols.ID).(*array.String)
		labels := rec.Column(cols.Label).(*array.Int32)
		perImage := 0
		for _, name := range names {
			seqs := make([][]*Img, n)
			err := parallel(n, workers, func(i int) error {
				m, err := toImg(px[i*sz:(i+1)*sz], sh)
				if err != nil {
					return fmt.Errorf("%s: row id %q: %v", r.Name(), ids.Value(i), err)
				}
				seqs[i], err = Sequence(name, m, difficulty, cfg, ids.Value(i))
				return err
			})
			if err != nil {
				return err
			}
			idb := array.NewStringBuilder(memory.DefaultAllocator)
			lb := array.NewInt32Builder(memory.DefaultAllocator)
			pb := array.NewStringBuilder(memory.DefaultAllocator)
			sb := array.NewStringBuilder(memory.DefaultAllocator)
			fb := array.NewInt64Builder(memory.DefaultAllocator)
			db := array.NewInt64Builder(memory.DefaultAllocator)
			rows := 0
			for _, sq := range seqs {
				rows += len(sq)
			}
			pix := make([]float32, rows*sz)
			at := 0
			for i := 0; i < n; i++ {
				for f, fr := range seqs[i] {
					idb.Append(fmt.Sprintf("%s/%s/%d", ids.Value(i), name, f))
					lb.Append(labels.Value(i))
					pb.Append(name)
					sb.Append(ids.Value(i))
					fb.Append(int64(f))
					db.Append(int64(difficulty))
					fromImg(pix[at*sz:(at+1)*sz], fr, sh)
					at++
				}
			}
			img := stream.Float32List(pix, sz)
			arrs := []arrow.Array{idb.NewArray(), lb.NewArray(), img, pb.NewArray(), sb.NewArray(), fb.NewArray(), db.NewArray()}
			rec := array.NewRecord(schema, arrs, int64(rows))
			err = wr.Write(rec)
			rec.Release()
			for _, a := range arrs {
				a.Release()
			}
			for _, b := range []array.Builder{idb, lb, pb, sb, fb, db} {
				b.Release()
			}
			if err != nil {
				return fmt.Errorf("writing sequences: %v", err)
			}
			meter.Add(rows)
			perImage += rows / n
		}
		if !counted && inRows > 0 {
			meter.SetTotal(inRows * int64(perImage))
			counted = true
		}
	}
	if err := r.Err(); err != nil {
		return err
	}
	meter.Done()
	return wr.Close()
}
