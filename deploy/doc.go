// Package deploy holds the files of the production shape (docker compose) and the test that keeps them true to the
// code.
package deploy
