#include "data_text.h"

#include <algorithm>
#include <cctype>

namespace hearth {

static constexpr size_t npos = std::string_view::npos;
static constexpr std::string_view WORD_JOINER = "\xE2\x81\xA0"; // U+2060

std::vector<SpecialText> splitSpecials(const llama_vocab * vocab) {
    std::vector<SpecialText> out;
    const int n = llama_vocab_n_tokens(vocab);
    for (llama_token id = 0; id < n; id++) {
        const int attr = llama_vocab_get_attr(vocab, id);
        if (!(attr & (LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_USER_DEFINED | LLAMA_TOKEN_ATTR_UNKNOWN))) continue;
        const char * t = llama_vocab_get_text(vocab, id);
        if (!t || !*t) continue;
        out.push_back({id, std::string_view(t), (attr & (LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_UNKNOWN)) != 0, (attr & LLAMA_TOKEN_ATTR_LSTRIP) != 0,
                       (attr & LLAMA_TOKEN_ATTR_RSTRIP) != 0});
    }
    std::stable_sort(out.begin(), out.end(), [](const SpecialText & a, const SpecialText & b) { return a.text.size() > b.text.size(); });
    return out;
}

static bool isSpace(char c) {
    return std::isspace((unsigned char) c) != 0;
}

void cutAtSpecials(const std::vector<SpecialText> & specials, std::string_view text, std::vector<TextPiece> & out) {
    // as llama.cpp's tokenizer_st_partition: each special text in turn, the longest first, cuts every run of
    // text still uncut where it occurs, left to right; a token marked lstrip (rstrip) drops the whitespace
    // of the run to its left (right), before the shorter ones are looked for
    struct Cut {
        size_t b, e;
        int sp; // -1: the text [b, e)
    };
    std::vector<Cut> cuts{{0, text.size(), -1}}, next;
    for (size_t si = 0; si < specials.size(); si++) {
        const SpecialText & s = specials[si];
        bool any = false;
        next.clear();
        for (const Cut & c : cuts) {
            if (c.sp >= 0 || c.e - c.b < s.text.size()) {
                next.push_back(c);
                continue;
            }
            const std::string_view frag = text.substr(0, c.e);
            size_t from = c.b;
            for (size_t at; from < c.e && (at = frag.find(s.text, from)) != npos;) {
                any = true;
                size_t left = at;
                if (s.lstrip) while (left > from && isSpace(text[left - 1])) left--;
                if (left > from) next.push_back({from, left, -1});
                next.push_back({at, at + s.text.size(), (int) si});
                from = at + s.text.size();
                if (s.rstrip) while (from < c.e && isSpace(text[from])) from++;
            }
            if (from < c.e) next.push_back({from, c.e, -1});
        }
        if (any) std::swap(cuts, next);
    }
    for (const Cut & c : cuts) {
        if (c.sp < 0) {
            out.push_back({false, std::string(text.substr(c.b, c.e - c.b))});
        } else {
            const SpecialText & s = specials[(size_t) c.sp];
            out.push_back({true, {}, s.id, s.lstrip, s.rstrip});
        }
    }
}

std::vector<llama_token> tokenizePieces(const llama_vocab * vocab, const std::vector<TextPiece> & pieces, bool add_special) {
    std::vector<llama_token> out;
    // what llama.cpp's tokenize adds with add_special, by the vocab's kind (llama_vocab::impl::tokenize)
    llama_token first = LLAMA_TOKEN_NULL, last = LLAMA_TOKEN_NULL;
    if (add_special) {
        switch (llama_vocab_type(vocab)) {
            case LLAMA_VOCAB_TYPE_SPM:
            case LLAMA_VOCAB_TYPE_BPE:
            case LLAMA_VOCAB_TYPE_UGM:
                if (llama_vocab_get_add_bos(vocab)) first = llama_vocab_bos(vocab);
                if (llama_vocab_get_add_eos(vocab)) last = llama_vocab_eos(vocab);
                break;
            case LLAMA_VOCAB_TYPE_WPM:
                first = llama_vocab_bos(vocab);
                last = llama_vocab_sep(vocab);
                break;
            default: break;
        }
    }
    if (first != LLAMA_TOKEN_NULL) out.push_back(first);
    std::string run;
    bool strip_left = false; // the run follows a token marked rstrip
    auto flush = [&](bool strip_right) {
        size_t b = 0, e = run.size();
        if (strip_left) while (b < e && isSpace(run[b])) b++;
        if (strip_right) while (e > b && isSpace(run[e - 1])) e--;
        if (e > b) {
            const auto toks = common_tokenize(vocab, run.substr(b, e - b), false, false);
            out.insert(out.end(), toks.begin(), toks.end());
        }
        run.clear();
    };
    for (const TextPiece & p : pieces) {
        if (!p.token) {
            run += p.text;
            continue;
        }
        flush(p.lstrip);
        out.push_back(p.id);
        strip_left = p.rstrip;
    }
    flush(false);
    if (last != LLAMA_TOKEN_NULL) out.push_back(last);
    return out;
}

namespace {

struct Span {
    size_t b, e;
};

// `s` without its marks, and where the text of each well-formed pair of them is in the result (an open
// followed by a close before any other open); a mark without its pair is dropped. One pass.
std::string unmark(std::string_view s, std::vector<Span> & spans) {
    std::string out;
    out.reserve(s.size());
    size_t open = s.find(DATA_OPEN), close = s.find(DATA_CLOSE);
    size_t i = 0;
    while (true) {
        if (open != npos && open < i) open = s.find(DATA_OPEN, i);
        if (close != npos && close < i) close = s.find(DATA_CLOSE, i);
        const size_t next = std::min(open, close);
        if (next == npos) break;
        out.append(s.substr(i, next - i));
        if (next == close) { // a close without an open
            i = close + DATA_CLOSE.size();
            continue;
        }
        const size_t after = open + DATA_OPEN.size();
        const size_t open2 = s.find(DATA_OPEN, after);
        if (close == npos || open2 < close) { // an open without its close
            i = after;
            continue;
        }
        spans.push_back({out.size(), out.size() + (close - after)});
        out.append(s.substr(after, close - after));
        i = close + DATA_CLOSE.size();
    }
    out.append(s.substr(i));
    return out;
}

// The length of the UTF-8 character starting at s[i] (1 for a stray byte).
size_t charAt(std::string_view s, size_t i) {
    const unsigned char c = (unsigned char) s[i];
    const size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return std::min(n, s.size() - i);
}

// Whether some special text could occur across the start (end) of `d`: a proper suffix (prefix) of it
// agrees with d's start (end) as far as both go.
bool crossesStart(const std::vector<const SpecialText *> & parsed, std::string_view d) {
    for (const SpecialText * sp : parsed) {
        const std::string_view t = sp->text;
        for (size_t k = t.find(d[0], 1); k != npos; k = t.find(d[0], k + 1)) {
            const size_t m = std::min(t.size() - k, d.size());
            if (d.compare(0, m, t, k, m) == 0) return true;
        }
    }
    return false;
}
bool crossesEnd(const std::vector<const SpecialText *> & parsed, std::string_view d) {
    for (const SpecialText * sp : parsed) {
        const std::string_view t = sp->text;
        for (size_t k = 1; k < t.size(); k++) { // t's first k bytes end at d's end
            const size_t m = std::min(k, d.size());
            if (d.compare(d.size() - m, m, t, k - m, m) == 0) return true;
        }
    }
    return false;
}

// Whether the data `d` holds special text split out only when special tokens are parsed, or such text
// could form across one of its edges.
bool needsMarks(const std::vector<const SpecialText *> & parsed, std::string_view d) {
    if (d.empty()) return false;
    for (const SpecialText * sp : parsed) {
        if (d.find(sp->text) != npos) return true;
    }
    return crossesStart(parsed, d) || crossesEnd(parsed, d);
}

// One content string narrowed (narrowDataMarks); whether marks remain.
bool narrowText(const std::vector<const SpecialText *> & parsed, std::string & s) {
    if (s.find(DATA_OPEN) == npos && s.find(DATA_CLOSE) == npos) return false;
    std::vector<Span> spans;
    const std::string plain = unmark(s, spans);
    std::string out;
    out.reserve(s.size());
    size_t at = 0;
    bool kept = false;
    for (const Span & span : spans) {
        const std::string_view d(plain.data() + span.b, span.e - span.b);
        if (!needsMarks(parsed, d)) continue;
        kept = true;
        out.append(plain, at, span.b - at);
        out.append(DATA_OPEN);
        out.append(d);
        out.append(DATA_CLOSE);
        at = span.e;
    }
    out.append(plain, at, npos);
    s = std::move(out);
    return kept;
}

std::vector<const SpecialText *> parsedOnly(const std::vector<SpecialText> & specials) {
    std::vector<const SpecialText *> parsed;
    for (const SpecialText & s : specials) {
        if (s.parsed_only) parsed.push_back(&s);
    }
    return parsed;
}

} // namespace

bool narrowDataMarks(const std::vector<SpecialText> & specials, common_json & messages) {
    const std::vector<const SpecialText *> parsed = parsedOnly(specials);
    bool kept = false;
    auto narrow = [&](common_json & v) {
        if (!v.is_string()) return;
        std::string s = v.get<std::string>();
        kept = narrowText(parsed, s) || kept;
        v = std::move(s);
    };
    if (!messages.is_array()) return false;
    for (auto & m : messages) {
        if (!m.is_object() || !m.contains("content")) continue;
        common_json & c = m["content"];
        if (c.is_string()) narrow(c);
        else if (c.is_array()) {
            for (auto & part : c) {
                if (part.is_object() && part.value("type", std::string()) == "text" && part.contains("text")) narrow(part["text"]);
            }
        }
    }
    return kept;
}

std::vector<llama_token> tokenizeMarked(const llama_vocab * vocab, const std::vector<SpecialText> & specials, const std::string & prompt, bool add_special) {
    std::vector<Span> spans;
    const std::string plain = unmark(prompt, spans);
    const std::string_view text = plain;
    std::vector<TextPiece> pieces;
    size_t at = 0;
    for (const Span & s : spans) {
        if (s.b > at) cutAtSpecials(specials, text.substr(at, s.b - at), pieces);
        pieces.push_back({false, std::string(text.substr(s.b, s.e - s.b))});
        at = s.e;
    }
    if (at < text.size()) cutAtSpecials(specials, text.substr(at), pieces);
    return tokenizePieces(vocab, pieces, add_special);
}

std::string withoutMarks(const std::string & prompt) {
    std::vector<Span> spans;
    return unmark(prompt, spans);
}

std::string breakMarked(const std::vector<SpecialText> & specials, const std::string & prompt) {
    const std::vector<const SpecialText *> parsed = parsedOnly(specials);
    std::vector<Span> spans;
    const std::string plain = unmark(prompt, spans);
    std::string out;
    auto joiner = [&] {
        if (out.size() < WORD_JOINER.size() || out.compare(out.size() - WORD_JOINER.size(), WORD_JOINER.size(), WORD_JOINER) != 0) out.append(WORD_JOINER);
    };
    size_t at = 0;
    for (const Span & s : spans) {
        out.append(plain, at, s.b - at);
        const std::string_view d(plain.data() + s.b, s.e - s.b);
        // the special text in it, its characters apart; a joiner at each edge
        std::vector<Span> found;
        for (const SpecialText * sp : parsed) {
            for (size_t p = d.find(sp->text); p != npos; p = d.find(sp->text, p + 1)) found.push_back({p, p + sp->text.size()});
        }
        std::sort(found.begin(), found.end(), [](const Span & a, const Span & b) { return a.b < b.b; });
        joiner();
        size_t i = 0;
        for (size_t f = 0; f < found.size();) {
            Span r = found[f++];
            while (f < found.size() && found[f].b <= r.e) r.e = std::max(r.e, found[f++].e);
            out.append(d.substr(i, r.b - i));
            for (size_t c = r.b; c < r.e;) {
                const size_t n = charAt(d, c);
                joiner();
                out.append(d.substr(c, n));
                c += n;
            }
            joiner();
            i = r.e;
        }
        out.append(d.substr(i));
        joiner();
        at = s.e;
    }
    out.append(plain, at, npos);
    return out;
}

} // namespace hearth
