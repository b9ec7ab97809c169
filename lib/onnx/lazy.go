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
	var slim []byte
	var raws [][]byte // raw_data of the graph's initializers, in order (nil: none)
	graphs := 0
	for b := data; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if num == fieldModelGraph && typ == protowire.BytesType {
			graphs++
			if graphs > 1 {
				return nil, errLayout // merged graph fields: leave it to proto.Unmarshal
			}
			g, _ := protowire.ConsumeBytes(b[n:])
			sg, r, err := slimGraph(g)
			if err != nil {
				return nil, err
			}
			raws = r
			slim = protowire.AppendTag(slim, num, typ)
			slim = protowire.AppendBytes(slim, sg)
		} else {
			slim = append(slim, b[:n+m]...)
		}
		b = b[n+m:]
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
			inits[i].RawData = r[:len(r):len(r)]
		}
	}
	return &mp, nil
}

// slimGraph returns a GraphProto's bytes without its initializers'
// raw_data, and those raw_data slices.
func slimGraph(g []byte) ([]byte, [][]byte, error) {
	var out []byte
	var raws [][]byte
	for b := g; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, nil, protowire.ParseError(m)
		}
		if num == fieldGraphInitializer && typ == protowire.BytesType {
			t, _ := protowire.ConsumeBytes(b[n:])
			st, raw, err := slimTensor(t)
			if err != nil {
				return nil, nil, err
			}
			raws = append(raws, raw)
			out = protowire.AppendTag(out, num, typ)
			out = protowire.AppendBytes(out, st)
		} else {
			out = append(out, b[:n+m]...)
		}
		b = b[n+m:]
	}
	return out, raws, nil
}

func slimTensor(t []byte) ([]byte, []byte, error) {
	var out, raw []byte
	seen := false
	for b := t; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, nil, protowire.ParseError(m)
		}
		if num == fieldTensorRawData && typ == protowire.BytesType {
			if seen {
				return nil, nil, errLayout // repeated raw_data: the last wins in protobuf; keep it simple
			}
			seen = true
			raw, _ = protowire.ConsumeBytes(b[n:])
			if raw == nil {
				raw = []byte{}
			}
		} else {
			out = append(out, b[:n+m]...)
		}
		b = b[n+m:]
	}
	return out, raw, nil
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
