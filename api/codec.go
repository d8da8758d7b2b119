package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/partnerflow/partnerflow/models"
)

const readyTimeout = 3 * time.Second

// codecRoles may read workflow payloads in the clear through the codec: they hold customers'
// names, addresses and contacts, which a sales agent's key has no business decrypting.
var codecRoles = []models.Role{models.RoleAdminAgent, models.RoleGlobalAdmin}

// codecCORS lets the Temporal Web UI, served from another origin, call the codec endpoint with
// the operator's session cookie.
func (s *Server) codecCORS(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if origin != "" && slices.Contains(s.origins, origin) {
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set(
			"Access-Control-Allow-Headers",
			"Authorization, Content-Type, X-Namespace, Caller-Type, Client-Name, Client-Version",
		)
		h.Set("Access-Control-Max-Age", "600")
		h.Add("Vary", "Origin")
	}
	c.Next()
}

// serveCodec encodes or decodes payloads for the Web UI and the CLI (`POST /codec/encode`,
// `POST /codec/decode`, body `{"payloads":[...]}` in protobuf JSON), the remote codec protocol.
// The caller gets no workflow ID to bind to: decode opens a payload whatever workflow it names,
// and encode seals one for display only, which workers refuse, so an operator's key cannot
// start or signal a workflow through the Temporal frontend with input the API never checked.
func (s *Server) serveCodec(c *gin.Context) {
	transform := map[string]func([]*commonpb.Payload) ([]*commonpb.Payload, error){
		"encode": s.codec.EncodeForDisplay, "decode": s.codec.DecodeForDisplay,
	}[c.Param("operation")]
	if transform == nil {
		writeProblem(c, problemNotFound())
		return
	}
	body, ok := readBody(c)
	if !ok {
		return
	}
	var in commonpb.Payloads
	if protojson.Unmarshal(body, &in) != nil {
		writeProblem(c, NewProblem(
			http.StatusBadRequest,
			"invalid-json",
			"Malformed JSON",
			`send {"payloads":[...]} in protobuf JSON`,
		))
		return
	}
	out, err := transform(in.Payloads)
	if err != nil {
		writeProblem(
			c,
			NewProblem(http.StatusBadRequest, "codec-failed", "Payloads could not be transformed", err.Error()),
		)
		return
	}
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
	if err != nil {
		writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", b)
}
