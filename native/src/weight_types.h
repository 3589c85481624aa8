// Which tensor types llama.cpp can compute with. A weight is multiplied through its type's dot product
// or converted to F32 first; a type ggml cannot convert to F32 (the integer types, F64, and Q8_1 and
// Q8_K, which exist only as the other side of a dot product) has no CPU kernel for it. llama.cpp loads
// a file holding one (its check of where a weight can go asks the CPU backend only about the
// activations' type), and the first decode calls a null function, ending the process.
#pragma once

#include <string>

#include "ggml.h"

namespace hearth {

// Whether a weight of type `t` can be computed with: F32, or a type ggml converts to F32.
bool computableType(ggml_type t);

// Why llama.cpp must not compute with the GGUF at `path` (a model, draft model or projector; for a
// split model, every part): its first tensor of a type llama.cpp cannot compute with, named (empty:
// none, or the file cannot be read, which llama.cpp's own load then says).
std::string weightTypeProblem(const std::string & path);

// Throws load_failed (naming `what`) when weightTypeProblem finds one in any of the files (empty paths skipped).
void refuseUncomputable(const std::string & path, const std::string & what);

} // namespace hearth
