// Package codec encrypts every Temporal payload partnerflow writes with AES-256-GCM, so the
// Temporal server's database holds only ciphertext; the API's codec endpoint uses it to show
// operators the plaintext in the Temporal Web UI.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Encoding is the metadata encoding of an encrypted payload.
const Encoding = "binary/encrypted"

const (
	metadataKeyID = "encryption-key-id"
	// metadataWorkflowID names the workflow a payload was sealed for. Its presence marks the
	// second version of the format, in which the workflow ID is the AES-GCM associated data, so
	// the payload opens for that workflow only. Payloads without it (the first version, written
	// before workflows were bound) are sealed with no associated data and still open anywhere,
	// so that those histories replay; nothing writes them any more.
	metadataWorkflowID = "encryption-workflow-id"
	aadPrefix          = "partnerflow/workflow-id:"
	// metadataDisplay marks a payload sealed by the remote codec's encode (the Web UI's and the
	// CLI's), with displayAAD as its associated data: only DecodeForDisplay opens it, so what an
	// operator encodes can be shown but never run. The associated data differs from every
	// workflow's and from none, so removing or relabelling the mark makes the payload not open.
	metadataDisplay = "encryption-codec-endpoint"
	displayAAD      = "partnerflow/codec-endpoint"
)

// KeySize is the length of an AES-256 key in bytes.
const KeySize = 32

// Codec is a Temporal payload codec that seals each payload, metadata included, with
// AES-256-GCM under one key. Given a serialization context (the SDK passes one for every
// workflow and activity payload), it binds each payload to the workflow's ID and opens only
// the payloads bound to that workflow, or to none.
type Codec struct {
	aead  cipher.AEAD
	keyID string
	// workflowID is the workflow whose payloads this codec seals and opens; empty outside one.
	workflowID string
}

var (
	_ converter.PayloadCodec                         = (*Codec)(nil)
	_ converter.PayloadCodecWithSerializationContext = (*Codec)(nil)
)

// New returns a codec for a 32-byte key.
func New(key []byte) (*Codec, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("codec key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(key)
	return &Codec{aead: aead, keyID: hex.EncodeToString(sum[:4])}, nil
}

// WithSerializationContext returns the codec bound to the context's workflow: workflow
// payloads and those of the workflow's activities (child workflows and external signals carry
// the target's ID, which is the workflow whose history holds them).
func (c *Codec) WithSerializationContext(sc converter.SerializationContext) converter.PayloadCodec {
	return c.ForWorkflow(workflowIDOf(sc))
}

// ForWorkflow returns the codec bound to one workflow, as a worker running it holds it.
func (c *Codec) ForWorkflow(workflowID string) *Codec {
	if workflowID == c.workflowID {
		return c
	}
	bound := *c
	bound.workflowID = workflowID
	return &bound
}

func workflowIDOf(sc converter.SerializationContext) string {
	switch s := sc.(type) {
	case converter.WorkflowSerializationContext:
		return s.WorkflowID
	case converter.ActivitySerializationContext:
		return s.WorkflowID
	}
	return ""
}

// ParseKey decodes a base64 (standard or URL alphabet) AES-256 key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding,
		base64.RawStdEncoding,
		base64.URLEncoding,
		base64.RawURLEncoding,
	} {
		if key, err := enc.DecodeString(s); err == nil {
			if len(key) != KeySize {
				return nil, fmt.Errorf("PARTNERFLOW_CODEC_KEY must decode to %d bytes, got %d", KeySize, len(key))
			}
			return key, nil
		}
	}
	return nil, errors.New("PARTNERFLOW_CODEC_KEY is not valid base64")
}

// LoadOrCreateKey reads the key kept in dir, creating a random one (mode 0600) on first use.
func LoadOrCreateKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "codec.key")
	if b, err := os.ReadFile(path); err == nil {
		return ParseKey(string(b))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read codec key: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write codec key: %w", err)
	}
	return key, nil
}

// BoundWorkflowID is the workflow a sealed payload is bound to; empty for a payload of the first
// format or a plain one. A replayer needs it: it runs a recorded history under a made-up
// workflow ID unless told the original (worker.ReplayWorkflowHistoryOptions.OriginalExecution).
func BoundWorkflowID(p *commonpb.Payload) string {
	return string(p.GetMetadata()[metadataWorkflowID])
}

// Encode seals each payload, bound to the codec's workflow when it has one.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return c.encode(payloads, false)
}

// EncodeForDisplay is the remote codec's encode, for the Web UI and the CLI: it seals payloads
// that DecodeForDisplay opens and workers refuse. The remote codec protocol names no workflow to
// bind to, and a key allowed to read payloads must not be able to write a workflow's input,
// signal or update past the API's role checks.
func (c *Codec) EncodeForDisplay(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return c.encode(payloads, true)
}

func (c *Codec) encode(payloads []*commonpb.Payload, display bool) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("marshal payload: %w", err)
		}
		nonce := make([]byte, c.aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		meta := map[string][]byte{
			converter.MetadataEncoding: []byte(Encoding),
			metadataKeyID:              []byte(c.keyID),
		}
		var aad []byte
		switch {
		case display:
			meta[metadataDisplay] = []byte("true")
			aad = []byte(displayAAD)
		case c.workflowID != "":
			meta[metadataWorkflowID] = []byte(c.workflowID)
			aad = []byte(aadPrefix + c.workflowID)
		}
		out[i] = &commonpb.Payload{Metadata: meta, Data: c.aead.Seal(nonce, nonce, plain, aad)}
	}
	return out, nil
}

// Decode opens each sealed payload and refuses any other: a worker acts only on payloads
// written with the key, so a workflow started or signalled by someone without it (a plain
// payload from a CLI or a UI with no codec) fails instead of running. A payload sealed by the
// remote codec's encode is refused too, and, within a workflow, one bound to another workflow.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return c.decode(payloads, false)
}

// DecodeForDisplay is the remote codec's decode, for the Web UI and the CLI: it opens sealed
// payloads whatever workflow they are bound to, and shows plain ones (search attributes,
// anything written without the codec) as they are.
func (c *Codec) DecodeForDisplay(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return c.decode(payloads, true)
}

func (c *Codec) decode(payloads []*commonpb.Payload, display bool) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			if !display {
				return nil, fmt.Errorf(
					"payload is not encrypted (encoding %q); "+
						"partnerflow's workers accept only payloads sealed with its codec key",
					p.GetMetadata()[converter.MetadataEncoding],
				)
			}
			out[i] = p
			continue
		}
		if id := string(p.GetMetadata()[metadataKeyID]); id != c.keyID {
			return nil, fmt.Errorf("payload sealed with key %s, this codec holds key %s", id, c.keyID)
		}
		var aad []byte
		_, forDisplay := p.GetMetadata()[metadataDisplay]
		if bound, ok := p.GetMetadata()[metadataWorkflowID]; ok {
			if !display && c.workflowID != "" && string(bound) != c.workflowID {
				return nil, fmt.Errorf("payload is bound to workflow %q, not to %q", bound, c.workflowID)
			}
			aad = []byte(aadPrefix + string(bound))
		}
		if forDisplay {
			if !display {
				return nil, errors.New(
					"payload was sealed by the codec endpoint for display; " +
						"workers run only payloads partnerflow wrote for a workflow",
				)
			}
			aad = []byte(displayAAD)
		}
		n := c.aead.NonceSize()
		if len(p.Data) < n {
			return nil, errors.New("encrypted payload is too short")
		}
		plain, err := c.aead.Open(nil, p.Data[:n], p.Data[n:], aad)
		if err != nil {
			return nil, fmt.Errorf("decrypt payload: %w", err)
		}
		var decoded commonpb.Payload
		if err := proto.Unmarshal(plain, &decoded); err != nil {
			return nil, fmt.Errorf("unmarshal payload: %w", err)
		}
		out[i] = &decoded
	}
	return out, nil
}

// DataConverter wraps the SDK's default converter so every payload passes through the codec.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter moves failure messages and stack traces into encoded attributes, so error
// text is encrypted too, bound to the workflow like every other payload.
func (c *Codec) FailureConverter() converter.FailureConverter {
	return failureConverter{
		FailureConverter: temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
			DataConverter:          c.DataConverter(),
			EncodeCommonAttributes: true,
		}),
		codec: c,
	}
}

// failureConverter passes the serialization context on to the codec under the SDK's default
// failure converter, which does not pass it itself.
type failureConverter struct {
	converter.FailureConverter
	codec *Codec
}

func (f failureConverter) WithSerializationContext(sc converter.SerializationContext) converter.FailureConverter {
	bound := f.codec.ForWorkflow(workflowIDOf(sc))
	if bound == f.codec {
		return f
	}
	return bound.FailureConverter()
}
