// What Hearth does not hand llama.cpp to compute with, from a file's header, before anything computes:
//
// - A weight of a type llama.cpp has no kernel for. A matrix is multiplied through its type's dot
//   product or converted to F32 first; a type ggml cannot convert to F32 (the integer types, F64, and
//   Q8_1 and Q8_K, which exist only as the other side of a dot product) has no CPU kernel. A norm's
//   scale or a bias is added or multiplied into F32 activations, which the CPU does only with an F32
//   one (llama.cpp's converters write them F32, and its quantizer leaves vectors so); so are a few
//   named weights other F32-only operations take (BERT's token types, convolution kernels). llama.cpp
//   loads such a file (its check of where a weight can go asks the CPU backend about the activations'
//   type only), and the first decode calls a null kernel or aborts, ending the process.
// - An encoder-decoder model (T5) or a speculative head (EAGLE-3, DFlash), by llama.cpp's answer for its
//   architecture: llama.cpp decodes for them only after llama_encode, which Hearth does not run (a
//   plain decode asserts), and a context for one may crash already (a T5 without its first layer's
//   position bias).
#pragma once

#include <string>

#include "ggml.h"

namespace hearth {

// Whether a matrix of type `t` can be computed with: F32, or a type ggml converts to F32.
bool computableType(ggml_type t);

// Why llama.cpp must not compute with the GGUF at `path` (a model, draft model or projector; for a
// split model, every part): its first tensor of a type llama.cpp cannot compute with, named (empty:
// none, or the file cannot be read, which llama.cpp's own load then says).
// `arch`, when given, gets the first file's general.architecture. A header is read again only when its
// file's identity (device and inode, size, write and change times) changes; on Windows every time.
std::string weightTypeProblem(const std::string & path, std::string * arch = nullptr);

// Throws load_failed naming `what` when weightTypeProblem finds one (unless `weights` is false: a load of
// the metadata alone; an empty path is skipped), and, for a model (not a projector), not_supported when it
// has an encoder and a decoder (llama.cpp's answer for its architecture).
void refuseUncomputable(const std::string & path, const std::string & what, bool model = true, bool weights = true);

} // namespace hearth
