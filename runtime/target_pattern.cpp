// A small Thompson-NFA regular-expression matcher: parse to instructions, then advance the
// set of live states one character at a time (Pike's VM without captures).
#include "runtime/target_pattern.h"

#include <optional>
#include <string>
#include <vector>

namespace kmr::runtime {
namespace {

constexpr std::size_t kMaxPattern = 1000;
constexpr int kMaxDepth = 64;

struct CharClass {
  std::vector<std::pair<unsigned char, unsigned char>> ranges;
  bool negated = false;

  bool contains(unsigned char c) const {
    bool in = false;
    for (const auto& [lo, hi] : ranges) in = in || (c >= lo && c <= hi);
    return in != negated;
  }
};

enum class Op { Class, Split, Jump, End, Match };

struct Inst {
  Op op = Op::Match;
  CharClass cls;     // Class: the characters this step accepts
  int x = 0, y = 0;  // Split: both targets; Jump: x
};

// A fragment of the program under construction: its first instruction and the
// instructions whose dangling exit (-1) must be patched to what follows.
struct Frag {
  int start = -1;
  std::vector<std::pair<int, int>> exits;  // (instruction, 0 for x / 1 for y)
};

class Compiler {
 public:
  explicit Compiler(std::string_view p) : p_(p) {}

  std::optional<std::vector<Inst>> compile() {
    if (p_.size() > kMaxPattern) return std::nullopt;
    if (!p_.empty() && p_[0] == '^') ++pos_;  // re.match is anchored anyway
    std::optional<Frag> f = alternation(0);
    if (!f || pos_ != p_.size()) return std::nullopt;
    const int match = emit({Op::Match, {}, 0, 0});
    patch(*f, match);
    start_ = f->start;
    return prog_;
  }
  int start() const { return start_; }

 private:
  int emit(Inst inst) {
    prog_.push_back(std::move(inst));
    return static_cast<int>(prog_.size()) - 1;
  }
  void patch(const Frag& f, int target) {
    for (const auto& [inst, slot] : f.exits) (slot == 0 ? prog_[inst].x : prog_[inst].y) = target;
  }
  bool at(char c) const { return pos_ < p_.size() && p_[pos_] == c; }

  // An empty fragment (matches the empty string): a jump to what follows.
  Frag empty() {
    const int j = emit({Op::Jump, {}, -1, 0});
    return {j, {{j, 0}}};
  }

  std::optional<Frag> alternation(int depth) {
    if (depth > kMaxDepth) return std::nullopt;
    std::optional<Frag> left = sequence(depth);
    if (!left) return std::nullopt;
    while (at('|')) {
      ++pos_;
      std::optional<Frag> right = sequence(depth);
      if (!right) return std::nullopt;
      const int split = emit({Op::Split, {}, left->start, right->start});
      Frag both{split, left->exits};
      both.exits.insert(both.exits.end(), right->exits.begin(), right->exits.end());
      left = std::move(both);
    }
    return left;
  }

  std::optional<Frag> sequence(int depth) {
    std::optional<Frag> seq;
    while (pos_ < p_.size() && !at('|') && !at(')')) {
      std::optional<Frag> item = quantified(depth);
      if (!item) return std::nullopt;
      if (seq) {
        patch(*seq, item->start);
        seq->exits = std::move(item->exits);
      } else {
        seq = std::move(item);
      }
    }
    return seq ? std::move(seq) : std::optional<Frag>(empty());
  }

  std::optional<Frag> quantified(int depth) {
    std::optional<Frag> a = atom(depth);
    if (!a) return std::nullopt;
    while (at('*') || at('+') || at('?')) {
      const char q = p_[pos_++];
      if (at('?')) ++pos_;  // lazy: same language
      const int split = emit({Op::Split, {}, a->start, -1});
      if (q == '*') {  // split -> a -> split; exit from split
        patch(*a, split);
        a = Frag{split, {{split, 1}}};
      } else if (q == '+') {  // a -> split -> a; exit from split
        patch(*a, split);
        a = Frag{a->start, {{split, 1}}};
      } else {  // split -> a | exit
        a->exits.push_back({split, 1});
        a->start = split;
      }
    }
    if (at('{')) return std::nullopt;  // counted repetition: outside the subset
    return a;
  }

  std::optional<Frag> single(CharClass cls) {
    const int i = emit({Op::Class, std::move(cls), -1, 0});
    return Frag{i, {{i, 0}}};
  }

  static std::optional<CharClass> escape_class(char e) {
    CharClass c;
    switch (e) {
      case 'd':
      case 'D':
        c.ranges = {{'0', '9'}};
        break;
      case 'w':
      case 'W':
        c.ranges = {{'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {'_', '_'}};
        break;
      case 's':
      case 'S':
        c.ranges = {{' ', ' '}, {'\t', '\r'}};
        break;
      default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) return std::nullopt;
        c.ranges = {{static_cast<unsigned char>(e), static_cast<unsigned char>(e)}};
        return c;
    }
    c.negated = e == 'D' || e == 'W' || e == 'S';
    return c;
  }

  std::optional<Frag> atom(int depth) {
    const char c = p_[pos_++];
    switch (c) {
      case '(': {
        if (p_.substr(pos_, 2) == "?:") {
          pos_ += 2;
        } else if (at('?')) {
          return std::nullopt;  // lookaround, named groups, flags
        }
        std::optional<Frag> inner = alternation(depth + 1);
        if (!inner || !at(')')) return std::nullopt;
        ++pos_;
        return inner;
      }
      case '.':
        return single({{{0, 255}}, false});
      case '[':
        return bracket();
      case '\\': {
        if (pos_ >= p_.size()) return std::nullopt;
        std::optional<CharClass> cls = escape_class(p_[pos_++]);
        if (!cls) return std::nullopt;
        return single(std::move(*cls));
      }
      case '$': {
        if (pos_ != p_.size() && !at('|') && !at(')')) return std::nullopt;
        const int i = emit({Op::End, {}, -1, 0});
        return Frag{i, {{i, 0}}};
      }
      case '*':
      case '+':
      case '?':
      case '{':
      case '^':
        return std::nullopt;
      default:
        return single({{{static_cast<unsigned char>(c), static_cast<unsigned char>(c)}}, false});
    }
  }

  std::optional<Frag> bracket() {
    CharClass cls;
    if (at('^')) {
      cls.negated = true;
      ++pos_;
    }
    bool first = true;
    while (pos_ < p_.size() && (first || !at(']'))) {
      first = false;
      unsigned char lo = static_cast<unsigned char>(p_[pos_++]);
      if (lo == '\\') {
        if (pos_ >= p_.size()) return std::nullopt;
        std::optional<CharClass> e = escape_class(p_[pos_++]);
        if (!e || e->negated) return std::nullopt;
        if (e->ranges.size() != 1 || e->ranges[0].first != e->ranges[0].second) {
          cls.ranges.insert(cls.ranges.end(), e->ranges.begin(), e->ranges.end());
          continue;
        }
        lo = e->ranges[0].first;
      }
      unsigned char hi = lo;
      if (at('-') && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
        ++pos_;
        hi = static_cast<unsigned char>(p_[pos_++]);
        if (hi == '\\' || hi < lo) return std::nullopt;
      }
      cls.ranges.push_back({lo, hi});
    }
    if (!at(']')) return std::nullopt;
    ++pos_;
    return single(std::move(cls));
  }

  std::string_view p_;
  std::size_t pos_ = 0;
  std::vector<Inst> prog_;
  int start_ = 0;
};

// Adds state `pc` and everything reachable from it without reading a character.
void add_state(const std::vector<Inst>& prog, int pc, std::size_t at, std::size_t length, std::vector<int>& list,
               std::vector<std::size_t>& seen, std::size_t mark, bool& matched) {
  std::vector<int> stack{pc};
  while (!stack.empty()) {
    const int s = stack.back();
    stack.pop_back();
    if (seen[s] == mark) continue;
    seen[s] = mark;
    const Inst& inst = prog[s];
    switch (inst.op) {
      case Op::Jump:
        stack.push_back(inst.x);
        break;
      case Op::Split:
        stack.push_back(inst.y);
        stack.push_back(inst.x);
        break;
      case Op::End:
        if (at == length) stack.push_back(inst.x);
        break;
      case Op::Match:
        matched = true;
        break;
      case Op::Class:
        list.push_back(s);
        break;
    }
  }
}

}  // namespace

bool target_pattern_matches(std::string_view pattern, std::string_view name) {
  Compiler compiler(pattern);
  std::optional<std::vector<Inst>> prog = compiler.compile();
  if (!prog) return false;
  std::vector<std::size_t> seen(prog->size(), 0);
  std::vector<int> current, next;
  bool matched = false;
  std::size_t mark = 1;
  add_state(*prog, compiler.start(), 0, name.size(), current, seen, mark, matched);
  for (std::size_t i = 0; i < name.size() && !matched && !current.empty(); ++i) {
    ++mark;
    next.clear();
    for (int s : current) {
      if ((*prog)[s].cls.contains(static_cast<unsigned char>(name[i]))) {
        add_state(*prog, (*prog)[s].x, i + 1, name.size(), next, seen, mark, matched);
      }
    }
    std::swap(current, next);
  }
  return matched;
}

}  // namespace kmr::runtime
