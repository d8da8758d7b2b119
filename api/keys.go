package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/partnerflow/partnerflow/models"
)

// apiKeyView is an API key as the API shows it: never the secret or its hash.
type apiKeyView struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Roles      []models.Role `json:"roles"`
	CreatedAt  time.Time     `json:"createdAt"`
	RevokedAt  *time.Time    `json:"revokedAt,omitempty"`
	LastUsedAt *time.Time    `json:"lastUsedAt,omitempty"`
}

func viewAPIKey(k models.APIKey) apiKeyView {
	return apiKeyView{
		ID:         k.ID,
		Name:       k.Name,
		Roles:      k.Roles.List(),
		CreatedAt:  k.CreatedAt,
		RevokedAt:  k.RevokedAt,
		LastUsedAt: k.LastUsedAt,
	}
}

type createAPIKeyRequest struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// createAPIKey mints a key; the response is the only time its plaintext is shown.
func (s *Server) createAPIKey(c *gin.Context) {
	var req createAPIKeyRequest
	if !bindJSON(c, &req) {
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		writeProblem(c, Invalid("name", "a name of 1 to 100 characters is required"))
		return
	}
	roles, err := parseRoles(req.Roles)
	if err != nil {
		writeError(c, err)
		return
	}
	plaintext, key, err := s.store.CreateAPIKey(c.Request.Context(), req.Name, roles...)
	if err != nil {
		if errors.Is(err, models.ErrConflict) {
			p := NewProblem(http.StatusConflict, "conflict", "API key name in use", err.Error())
			p.Field = "name"
			writeProblem(c, p)
			return
		}
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"key": plaintext, "apiKey": viewAPIKey(*key)})
}

func parseRoles(names []string) ([]models.Role, error) {
	if len(names) == 0 {
		return nil, Invalid("roles", "at least one role is required: admin-agent, sales-agent or global-admin")
	}
	roles := make([]models.Role, 0, len(names))
	for _, n := range names {
		r, ok := models.ParseRole(n)
		if !ok {
			return nil, Invalid("roles", "unknown role %q: use admin-agent, sales-agent or global-admin", n)
		}
		roles = append(roles, r)
	}
	return roles, nil
}

func (s *Server) listAPIKeys(c *gin.Context) {
	keys, err := s.store.ListAPIKeys(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	items := make([]apiKeyView, len(keys))
	for i, k := range keys {
		items[i] = viewAPIKey(k)
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) revokeAPIKey(c *gin.Context) {
	err := s.store.RevokeAPIKey(c.Request.Context(), c.Param("id"))
	if errors.Is(err, models.ErrNotFound) {
		p := problemNotFound()
		p.Detail = "no active API key with this ID"
		writeProblem(c, p)
		return
	}
	if err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
