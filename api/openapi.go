package api

import (
	_ "embed"

	"github.com/gin-gonic/gin"
)

// OpenAPI is the OpenAPI 3 document of every route; a test keeps it and the router in step.
//
//go:embed openapi.json
var OpenAPI []byte

func serveOpenAPI(c *gin.Context) {
	c.Data(200, "application/json", OpenAPI)
}
