#include "graph/op_docs.h"

#include "graph/op_table.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sj {

std::string ops_markdown() {
  std::string s = "# Ops\n\n"
                  "Generated from the op table by `stepjit ops --markdown`; a test keeps it in "
                  "sync.\nAttributes without a default are required.\n\n"
                  "| op | operands | attributes | meaning |\n|---|---|---|---|\n";
  for (Op op : kAllOps) {
    const OpDef& d = op_def(op);
    std::string operands = fmt::format("{}", fmt::join(d.operand_names, ", "));
    if (d.num_operands == kVariadic) operands += "...";
    std::vector<std::string> attrs;
    for (const AttrSpec& a : d.attrs) {
      std::string text = fmt::format("`{}`: {}", a.name, attr_kind_name(a.kind));
      if (a.default_value) text += fmt::format(" = `{}`", attr_value_str(*a.default_value));
      if (!a.choices.empty()) text += fmt::format(" (one of {})", fmt::join(a.choices, ", "));
      if (!a.list_into.empty())
        text += fmt::format(" or pairs `[[a, b], ...]` (= {}, `{}` = [a, b, ...])", a.list_choice,
                            a.list_into);
      attrs.push_back(text);
    }
    s += fmt::format("| `{}` | {} | {} | {} |\n", d.name, operands, fmt::join(attrs, "; "),
                     d.summary);
  }
  return s;
}

} // namespace sj
