// Package jsonclean makes JSON and text storable in every database.
// PostgreSQL refuses, in jsonb and text columns, three things that Go and
// json.Valid accept: the NUL character (U+0000, "\u0000" in JSON; SQLSTATE
// 22P05 / 22021), bytes that are not UTF-8 (a Latin-1 API's answer; 22021),
// and lone UTF-16 surrogate escapes ("\ud83d", half an emoji; 22P02). A
// handler's result or error holding one would make the whole recording
// transaction fail again and again. Each is replaced by U+FFFD.
//
// Imports: the standard library only, so that the root package, the drivers
// and the recorder can all use it.
package jsonclean
