package gql

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/99designs/gqlgen/graphql/playground"
)

// GraphiQL is served offline: the page is gqlgen's, its scripts and style
// are the vendored npm files in graphiql/ (see graphiql/README.md), served
// from /graphiql/assets/ with the SRI hashes gqlgen pins for those exact
// versions, so the integrity attributes stay and still hold.
//
//go:embed graphiql/*.js graphiql/*.css graphiql/LICENSE.*
var graphiqlFS embed.FS

// The vendored files and their SRI hashes (equal to gqlgen v0.17.98's
// pinned values for graphiql 4.1.2 and react/react-dom 18.2.0).
const (
	graphiqlJS     = "graphiql.min.js"
	graphiqlJSSRI  = "sha256-hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs="
	graphiqlCSS    = "graphiql.min.css"
	graphiqlCSSSRI = "sha256-MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU="
	reactJS        = "react.production.min.js"
	reactJSSRI     = "sha256-S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY="
	reactDOMJS     = "react-dom.production.min.js"
	reactDOMJSSRI  = "sha256-IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc="
	assetsPath     = "/graphiql/assets/"
)

// graphiqlHandler is the GraphiQL page, pointing at /graphql (relative:
// the page names no absolute URL).
func graphiqlHandler() http.Handler {
	return playground.Handler("loadrig GraphQL", "/graphql",
		playground.WithGraphiqlVersion(assetsPath+graphiqlJS, assetsPath+graphiqlCSS, graphiqlJSSRI, graphiqlCSSSRI),
		playground.WithGraphiqlReactVersion(assetsPath+reactJS, assetsPath+reactDOMJS, reactJSSRI, reactDOMJSSRI),
		playground.WithStoragePrefix("loadrig:"),
	)
}

// graphiqlAssets serves the vendored files (and their licences).
func graphiqlAssets() http.Handler {
	sub, err := fs.Sub(graphiqlFS, "graphiql")
	if err != nil {
		panic(err)
	}
	fsrv := http.StripPrefix(assetsPath, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fsrv.ServeHTTP(w, r)
	})
}
