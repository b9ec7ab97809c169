package onnx

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lk-robustness/lk/lib/onnx/onnxpb"
)

// Field numbers of onnx.proto on the path to the weights.
const (
	fieldModelGraph       = 7 // ModelProto.graph
	fieldGraphInitializer = 5 // GraphProto.initializer
	fieldTensorRawData    = 9 // TensorProto.raw_data
)

// errLayout makes parseAliased fall back to a plain decode.
var errLayout = errors.New("unusual layout")

// parseAliased decodes a model whose main graph's initializers keep their
// raw_data as slices of data instead of copies: the weights, nearly all of
// a model's bytes, are then never copied, nor even read until used. The
// raw_data fields are cut out before decoding (the enclosing lengths
// re-encoded) and the slices put back after. data must not change while
// the model is in use.
func parseAliased(data []byte) (*onnxpb.ModelProto, error) {
	var raws [][]byte // raw_data of the graph's initializers, in order (nil: none)
	graphs := 0
	slim, err := rewrite(data, fieldModelGraph, func(g []byte) ([]byte, bool, error) {
		if graphs++; graphs > 1 {
			return nil, false, errLayout // merged graph fields: leave it to proto.Unmarshal
		}
		sg, err := rewrite(g, fieldGraphInitializer, func(t []byte) ([]byte, bool, error) {
			var raw []byte
			seen := false
			st, err := rewrite(t, fieldTensorRawData, func(r []byte) ([]byte, bool, error) {
				if seen {
					return nil, false, errLayout // repeated raw_data: the last wins in protobuf; keep it simple
				}
				seen = true
				raw = r[:len(r):len(r)]
				if raw == nil {
					raw = []byte{}
				}
				return nil, false, nil // cut out
			})
			raws = append(raws, raw)
			return st, true, err
		})
		return sg, true, err
	})
	if err != nil {
		return nil, err
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(slim, &mp); err != nil {
		return nil, err
	}
	inits := mp.GetGraph().GetInitializer()
	if len(inits) != len(raws) {
		return nil, errLayout
	}
	for i, r := range raws {
		if r != nil {
			inits[i].RawData = r
		}
	}
	return &mp, nil
}

// rewrite copies a message's fields, passing the value of each
// length-delimited field num to fn, which returns its replacement value
// (keep true) or drops the field (keep false).
func rewrite(msg []byte, num protowire.Number, fn func(val []byte) (repl []byte, keep bool, err error)) ([]byte, error) {
	var out []byte
	for b := msg; len(b) > 0; {
		n, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return nil, protowire.ParseError(k)
		}
		m := protowire.ConsumeFieldValue(n, typ, b[k:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if n == num && typ == protowire.BytesType {
			val, _ := protowire.ConsumeBytes(b[k:])
			repl, keep, err := fn(val)
			if err != nil {
				return nil, err
			}
			if keep {
				out = protowire.AppendTag(out, n, typ)
				out = protowire.AppendBytes(out, repl)
			}
		} else {
			out = append(out, b[:k+m]...)
		}
		b = b[k+m:]
	}
	return out, nil
}

// decode parses a model, aliasing the weights where the layout allows.
func decode(data []byte) (*onnxpb.ModelProto, error) {
	mp, err := parseAliased(data)
	if errors.Is(err, errLayout) {
		mp = &onnxpb.ModelProto{}
		err = proto.Unmarshal(data, mp)
	}
	if err != nil {
		return nil, fmt.Errorf("not an ONNX model: %v", err)
	}
	return mp, nil
}
