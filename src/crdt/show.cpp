#include "crdt/show.hpp"

namespace cairn::crdt {

std::optional<TypeKind> root_kind_named(std::string_view name) {
  if (name == "text") return TypeKind::text;
  if (name == "map") return TypeKind::map;
  if (name == "array") return TypeKind::array;
  if (name == "xml") return TypeKind::xml_fragment;
  return std::nullopt;
}

TypeKind infer_root_kind(const Type& root) {
  if (root.kind != TypeKind::unknown) return root.kind;
  bool xml = false, other = false;
  for (const Item* n = root.start; n != nullptr; n = n->right) {
    if (std::holds_alternative<ContentString>(n->content) ||
        std::holds_alternative<ContentEmbed>(n->content) ||
        std::holds_alternative<ContentFormat>(n->content)) {
      return TypeKind::text;
    }
    if (const auto* type = std::get_if<ContentType>(&n->content)) {
      switch (type->type->kind) {
        case TypeKind::xml_element:
        case TypeKind::xml_fragment:
        case TypeKind::xml_hook:
        case TypeKind::xml_text:
          xml = true;
          continue;
        default:
          break;
      }
    }
    if (!std::holds_alternative<ContentDeleted>(n->content)) other = true;
  }
  if (!root.map.empty()) return TypeKind::map;
  return xml && !other ? TypeKind::xml_fragment : TypeKind::array;
}

Any show_document(Doc& doc, const ShowOptions& options) {
  std::vector<std::pair<std::string, TypeKind>> roots;
  for (const auto& [name, root] : doc.roots()) {
    const auto named = options.kinds.find(name);
    roots.emplace_back(name, named != options.kinds.end() ? named->second : infer_root_kind(*root));
  }
  for (const auto& [name, kind] : options.kinds) {
    if (!doc.roots().contains(name)) roots.emplace_back(name, kind);  // named but never written
  }
  Any::Object out;
  for (const auto& [name, kind] : roots) {
    Type& root = doc.get(name, kind);
    if (options.delta && kind == TypeKind::text) {
      Any::Array delta;
      for (DeltaOp& op : root.to_delta()) {
        Any::Object member{{"insert", std::move(op.insert)}};
        if (!op.attributes.empty()) member.emplace_back("attributes", std::move(op.attributes));
        delta.emplace_back(std::move(member));
      }
      out.emplace_back(name, std::move(delta));
    } else {
      out.emplace_back(name, root.to_json());
    }
  }
  return Any(std::move(out));
}

}  // namespace cairn::crdt
