// A Yjs-compatible document: the structs Yjs's update format carries (items, garbage-collected
// ranges, skips), the shared types they make up, and Yjs's rules for integrating them (YATA), so
// that a Cairn document and a Yjs document that saw the same updates hold the same content and
// encode the same bytes. Learned from the Yjs sources (yjs 13.6: structs/Item.js,
// utils/encoding.js, utils/StructStore.js, utils/DeleteSet.js, utils/Transaction.js); written
// for Cairn.
//
// Lengths and offsets are UTF-16 code units, as Yjs counts them; the API takes and gives UTF-8.
// Not thread-safe: one thread at a time per document.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crdt/lib0.hpp"

namespace cairn::crdt {

struct ID {
  std::uint64_t client = 0;
  std::uint64_t clock = 0;
  friend bool operator==(const ID&, const ID&) = default;
};

class Type;
class Doc;
class Transaction;
class Event;
struct Item;
class StructList;

// Client -> the next clock expected from it.
using StateVector = std::map<std::uint64_t, std::uint64_t>;

// Deleted ranges per client: (clock, length), sorted and merged once normalized.
struct DeleteSet {
  std::map<std::uint64_t, std::vector<std::pair<std::uint64_t, std::uint64_t>>> clients;

  void add(std::uint64_t client, std::uint64_t clock, std::uint64_t length);
  void normalize();                   // sorts each client's ranges and merges those that touch
  bool contains(const ID& id) const;  // needs normalize() first
  bool empty() const { return clients.empty(); }
  friend bool operator==(const DeleteSet&, const DeleteSet&) = default;
};

// A map key, root name or attribute key, shared by the items that carry it.
using Name = std::shared_ptr<const std::string>;

// --- Content: what an item holds (Yjs's content refs 1-9) ---

struct ContentDeleted {
  std::uint64_t length = 0;
};
struct ContentJson {  // legacy: values the update carries as JSON texts ("undefined" allowed)
  std::vector<Any> values;
};
struct ContentBinary {
  Bytes bytes;
};
struct ContentString {
  std::u16string text;
};
// The rarer contents keep their values on the heap, so that an item stays small.
struct ContentEmbed {  // JSON in format v1 (parsed as Yjs parses it), any value in v2
  std::unique_ptr<const Any> value;
};
struct ContentFormat {  // a text attribute: its key and value (null ends it)
  Name key;
  // Shared where Yjs shares the JavaScript object: a format that ends another's change (or
  // brings back a value on redo) holds the very value, which Yjs's clean-up tells apart from an
  // equal one.
  std::shared_ptr<const Any> value;
};
struct ContentType {
  std::unique_ptr<Type> type;
};
struct ContentAny {
  std::vector<Any> values;
};
struct ContentDoc {  // a subdocument, carried through: its guid and options
  Name guid;
  std::unique_ptr<const Any> options;
};
using Content = std::variant<ContentDeleted, ContentJson, ContentBinary, ContentString,
                             ContentEmbed, ContentFormat, ContentType, ContentAny, ContentDoc>;

// Yjs's content ref of a content: 1 deleted ... 9 doc.
std::uint8_t content_ref(const Content& content);
// The clock length a content takes.
std::uint64_t content_length(const Content& content);
// Whether it counts in its parent's length (format items do not, nor deleted content).
inline bool content_countable(const Content& content) {
  return !std::holds_alternative<ContentDeleted>(content) &&
         !std::holds_alternative<ContentFormat>(content);
}

// --- Structs ---

enum class StructKind : std::uint8_t { item, gc, skip };

// An ID or none, in the space of an ID (std::optional<ID> takes half as much again): none is a
// clock no struct can have. Items hold three, and a document holds many items.
class OptionalID {
 public:
  OptionalID() = default;
  OptionalID(std::nullopt_t) {}
  OptionalID(const ID& id) : id_(id) {}

  explicit operator bool() const { return id_.clock != kNone; }
  const ID& operator*() const { return id_; }
  const ID* operator->() const { return &id_; }
  friend bool operator==(const OptionalID&, const OptionalID&) = default;

 private:
  static constexpr std::uint64_t kNone = ~std::uint64_t{0};
  ID id_{0, kNone};
};

// Where an item belongs, as the update names it until it is integrated.
struct ParentRef {
  std::variant<std::monostate, Name, ID> named;  // none (from origins), root name, item
};

struct Item {
  ID id;
  std::uint64_t length = 0;
  OptionalID origin;
  OptionalID right_origin;
  Item* left = nullptr;
  Item* right = nullptr;
  Type* parent = nullptr;  // once integrated; null for gc and skip
  ParentRef parent_ref;    // while decoded, not yet integrated
  Name parent_sub;         // the key in a map; null in a sequence
  Content content;
  OptionalID redone;
  StructKind kind = StructKind::item;
  bool deleted = false;
  bool keep = false;

  bool countable() const { return kind == StructKind::item && content_countable(content); }
  bool visible() const { return !deleted && countable(); }  // counts in its parent's length
  ID last_id() const { return {id.client, id.clock + length - 1}; }
};

// --- Types ---

// One operation of a Text's delta, as Yjs's toDelta gives it: a run of text (a string), an embed
// or a nested type (its JSON), and the attributes in force, in the order they were set.
struct DeltaOp {
  Any insert;
  Any::Object attributes;
};

enum class TypeKind : std::uint8_t {
  unknown,  // a root not yet used as a particular type
  array,
  map,
  text,
  xml_element,
  xml_fragment,
  xml_hook,
  xml_text,
};

class Type {
 public:
  Type(TypeKind kind, std::string name = {}) : kind(kind), name(std::move(name)) {}

  TypeKind kind;
  std::string name;                  // an XmlElement's node name, an XmlHook's hook name
  std::string root;                  // a root type's name in its document
  Doc* doc = nullptr;                // once integrated
  Item* item = nullptr;              // the item holding it; null for a root type
  Item* start = nullptr;             // the first item of its sequence
  std::map<std::string, Item*> map;  // each key's current (rightmost) item
  std::vector<std::string> keys;     // map's keys in the order they first came (Yjs's Map order)
  std::uint64_t length = 0;          // countable, undeleted length of its sequence
  std::uint32_t depth = 0;           // 0 for a root type, its parent's + 1 for a nested one
  bool has_formatting = false;       // a format item was ever integrated into it

  // Where the last local edit of its sequence left off (Yjs's search markers, reduced to one):
  // `item` starts at visible offset `index`. Local edits start their walk there instead of at
  // the start. Dropped by any change to the sequence it did not make (a remote update's too:
  // Transaction::note_changed) and kept right when items merge; not used in formatted text,
  // where a walk needs the attributes in force from the start.
  struct Marker {
    Item* item = nullptr;
    std::uint64_t index = 0;
  } marker;

  // --- observing (Yjs's observe and observeDeep) ---
  // Called once per transaction that changed this type, after it ends: what changed is in the
  // event. Deep observers hear of changes to this type and every type nested in it, all of a
  // transaction's events at once, the outermost first. Each returns an id for unobserve.
  using Observer = std::function<void(const Event&, Transaction&)>;
  using DeepObserver = std::function<void(const std::vector<const Event*>&, Transaction&)>;
  std::uint64_t observe(Observer observer);
  std::uint64_t observe_deep(DeepObserver observer);
  void unobserve(std::uint64_t id);  // either kind
  std::vector<std::pair<std::uint64_t, Observer>> observers;
  std::vector<std::pair<std::uint64_t, DeepObserver>> deep_observers;

  // --- reading ---
  std::string to_string() const;          // Text: its text; XML: as Yjs's toString() renders it
  std::vector<DeltaOp> to_delta() const;  // Text, XmlText
  Any to_json() const;                    // Map: object, Array: array, Text: string, XML: string
  std::vector<Any> array_values() const;
  std::optional<Any> map_get(std::string_view key) const;
};

// A document's state at one moment (Yjs's Snapshot): what it had and what was deleted.
struct Snapshot {
  DeleteSet deletes;
  StateVector state;
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

// How deeply types may nest (a root type is at depth 0). Deeper nesting, local or in an update,
// is refused: an update that would make it throws DecodeError before changing anything.
constexpr std::uint32_t kMaxTypeDepth = 512;

// --- The document ---

class Doc {
 public:
  explicit Doc(std::uint64_t client_id, bool gc = true);
  ~Doc();
  Doc(const Doc&) = delete;
  Doc& operator=(const Doc&) = delete;

  std::uint64_t client_id() const { return client_id_; }
  bool gc() const { return gc_; }

  // The root type `name`, created when absent; `kind` (when not unknown) fixes an unknown root's
  // kind. Throws std::invalid_argument when the root is already of another kind.
  Type& get(const std::string& name, TypeKind kind = TypeKind::unknown);
  const std::map<std::string, std::unique_ptr<Type>>& roots() const { return share_; }

  // Applies an update (format v1 or v2) as a remote transaction with `origin`. Throws DecodeError
  // when it is malformed, leaving the document as it was. Structs whose dependencies have not
  // arrived are kept pending.
  void apply_update_v1(std::span<const std::uint8_t> update, const void* origin = nullptr);
  void apply_update_v2(std::span<const std::uint8_t> update, const void* origin = nullptr);
  // The whole state as an update (v1 or v2), or what `since` lacks.
  Bytes encode_state_as_update_v1(const StateVector& since = {}) const;
  Bytes encode_state_as_update_v2(const StateVector& since = {}) const;
  StateVector state_vector() const;
  static Bytes encode_state_vector(const StateVector& vector);
  // Throws DecodeError when `bytes` are not exactly one encoded state vector.
  static StateVector decode_state_vector(std::span<const std::uint8_t> bytes);
  // Its state now, to see it as it was later (Yjs's snapshot).
  Snapshot snapshot() const;
  // A new document holding this one as it was at `snapshot` (Yjs's createDocFromSnapshot). Needs
  // garbage collection off in this document (std::logic_error otherwise: deleted content is gone)
  // and a snapshot of a state it has reached (std::invalid_argument).
  std::unique_ptr<Doc> restore(const Snapshot& snapshot, std::uint64_t client_id);
  // Whether structs or deletes wait for missing dependencies.
  bool has_pending() const;
  // Whether applying `update` (format v1) would change the document: structs it does not hold
  // yet, or deletes of content it has not deleted. Throws DecodeError when it is malformed.
  bool would_change_v1(std::span<const std::uint8_t> update) const;
  // Applies `update` (format v1) as apply_update_v1 does when it would change the document (as
  // would_change_v1 says); whether it did. Decodes it once.
  bool apply_changes_v1(std::span<const std::uint8_t> update, const void* origin = nullptr);

  // --- transactions and what they report ---
  // Runs `f` as one transaction (Yjs's transact): its edits make one update, and observers run
  // once, after it. A transaction started while another runs (from `f` or from an observer)
  // joins it, or — from an observer — runs after it. `origin` is handed to every handler; the
  // undo manager tracks transactions by it.
  void transact(const std::function<void(Transaction&)>& f, const void* origin = nullptr);
  // After every transaction that changed something: the update it made (format v1, what Yjs's
  // "update" event gives) and its origin.
  using UpdateHandler = std::function<void(std::span<const std::uint8_t>, const void* origin)>;
  std::uint64_t on_update(UpdateHandler handler);
  // After every transaction, once observers have run, before deleted content is collected (Yjs's
  // "afterTransaction").
  using TransactionHandler = std::function<void(Transaction&)>;
  std::uint64_t on_after_transaction(TransactionHandler handler);
  void off(std::uint64_t id);  // a handler of either kind

  // --- local edits (each its own transaction unless inside transact) ---
  // Text and XmlText (Yjs's insert, insertEmbed, format, delete). Without attributes, inserted
  // text takes those in force where it goes; with them, exactly those (null ends one). An embed
  // takes only the attributes given. Formatting past the end adds newlines, as Yjs does.
  void text_insert(Type& text, std::uint64_t index, std::string_view utf8_text,
                   const std::optional<Any::Object>& attributes = std::nullopt);
  void text_insert_embed(Type& text, std::uint64_t index, Any embed,
                         const Any::Object& attributes = {});
  void text_format(Type& text, std::uint64_t index, std::uint64_t length,
                   const Any::Object& attributes);
  void text_delete(Type& text, std::uint64_t index, std::uint64_t length);
  void array_insert(Type& array, std::uint64_t index, std::vector<Any> values);
  void array_delete(Type& array, std::uint64_t index, std::uint64_t length);
  void map_set(Type& map, const std::string& key, Any value);
  void map_delete(Type& map, const std::string& key);
  // A new, empty nested type (Yjs: map.set(key, new Y.Map()), array.insert(i, [new Y.Text()]),
  // an XmlFragment's or XmlElement's insert of new Y.XmlElement(name) or new Y.XmlText()). Arrays
  // and XML children go through array_insert/array_delete; an XmlElement's attributes through
  // map_set/map_delete; an XmlText's text through the text functions.
  Type& map_set_type(Type& map, const std::string& key, TypeKind kind, std::string name = {});
  Type& array_insert_type(Type& array, std::uint64_t index, TypeKind kind, std::string name = {});
  // Makes `into` hold what `from` (a type of the same kind, in another document) holds, in one
  // transaction of local edits: everything `into` holds is deleted (its map keys that `from` lacks)
  // and `from`'s content inserted again as new items, nested types copied as new types — so that
  // every replica that applies the edits ends up holding `from`'s content (a restore). Subdocuments
  // are not copied.
  void assign(Type& into, const Type& from);

  // --- internals shared with the update code ---
  struct Store;
  Store& store() { return *store_; }
  const Store& store() const { return *store_; }
  // Runs `f` in the current transaction, or in a new one (local or remote) that commits after.
  template <class F>
  void run(F&& f, const void* origin, bool local);

 private:
  friend class Transaction;
  void commit_all();

  std::uint64_t client_id_;
  bool gc_;
  std::unique_ptr<Store> store_;
  std::map<std::string, std::unique_ptr<Type>> share_;
  Transaction* current_ = nullptr;
  std::vector<std::unique_ptr<Transaction>> committing_;  // ended, to commit in order
  // The last transaction committed, begun again by the next: most edits are a transaction each,
  // and one that keeps its containers allocates less.
  std::unique_ptr<Transaction> spare_;
  std::vector<std::pair<std::uint64_t, UpdateHandler>> update_handlers_;
  std::vector<std::pair<std::uint64_t, TransactionHandler>> transaction_handlers_;
  std::uint64_t next_handler_ = 1;
};

// --- Transactions ---

// A set of changes made together (Yjs's Transaction): handed to observers and handlers, which
// read what it did. Made by Doc::transact, the local edits and applying updates.
class Transaction {
 public:
  Transaction(Doc& doc, bool local, const void* origin);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Doc& doc;
  bool local;
  const void* origin;
  StateVector before;  // the document's state when it began
  StateVector after;   // ... and when it ended (set when it commits, for whoever listens)
  DeleteSet deletes;   // what it deleted
  // The types it changed, in the order it first changed them: whether their sequence changed,
  // and which map keys (attributes of XML elements).
  struct Change {
    Type* type;
    bool sequence = false;
    std::vector<std::string> keys;
  };
  std::vector<Change> changed;
  // The changed types and all their ancestors (set when it commits, before observers run).
  std::vector<Type*> changed_parents;

  // Whether the struct was made by this transaction, and deleted by it (Yjs's adds, deletes).
  bool adds(const Item& item) const;
  bool deletes_item(const Item& item) const;

  // --- internals: the edits a transaction makes ---
  std::vector<ID> merge_structs;  // structs to try merging with their neighbours at the end

  // Splits the item holding `id` so that one starts at it; that item.
  Item* item_clean_start(const ID& id);
  // Splits the item holding `id` so that one ends at it; that item.
  Item* item_clean_end(const ID& id);
  // Splits `left` after `diff` clock units; the new right part (owned by the store).
  Item* split(Item& left, std::uint64_t diff);

  void integrate(std::unique_ptr<Item> item, std::uint64_t offset);
  void remove(Item& item);  // Item.delete
  // An item resolved for integration: nullopt when all it depends on is here, else the client it
  // waits for (Item.getMissing).
  std::optional<std::uint64_t> missing(Item& item);

  // A new local item after `left` and before `right` in `parent`.
  Item* insert(Type& parent, Item* left, Item* right, Name parent_sub, Content content);

  // Records that `type` changed (its sequence when `key` is null), as Yjs's
  // addChangedTypeToTransaction does: only types that existed before this transaction.
  void note_changed(Type& type, const Name& key);
  // Starts the transaction afresh (Doc reuses one that has committed).
  void begin(bool is_local, const void* by);
  // Ends the transaction: observers, handlers, garbage collection, merging, the update event.
  void commit();

 private:
  void call_observers();
  void gc_deleted();
  void merge_deleted();
  void merge_new_structs();
  std::size_t merge_with_lefts(StructList& structs, std::size_t pos);
  static constexpr std::size_t kChangedScan = 16;
  std::map<const Type*, std::size_t> changed_index_;  // once more than kChangedScan changed
};

// What one transaction did to one type (Yjs's YEvent, YTextEvent, YMapEvent...), computed when
// asked.
struct KeyChange {
  enum class Action : std::uint8_t { add, update, remove };
  Action action;
  std::optional<Any> old_value;  // for update and remove
};
struct EventOp {              // one operation of an event's delta: insert, retain or delete
  std::optional<Any> insert;  // a Text's run of text, an embed or a type; an Array's values
  std::uint64_t retain = 0;
  std::uint64_t erase = 0;  // "delete"
  Any::Object attributes;   // a Text's attributes on an insert or a retain
};
// A step of a path from an observed type down to a nested one: a map key or an array index.
using PathStep = std::variant<std::string, std::uint64_t>;

class Event {
 public:
  Event(Type& target, Transaction& transaction, const Transaction::Change& change);

  Type& target;
  Type* current_target;  // the type whose observer is called (for deep observers)
  Transaction& transaction;
  bool sequence_changed;  // Yjs's childListChanged

  // The changes to the sequence as a delta (Yjs's event.delta): a Text's with text and
  // attributes as YTextEvent reports them, others' with arrays of values.
  const std::vector<EventOp>& delta() const;
  // The changed keys, in the order they changed (Yjs's event.keys).
  const std::vector<std::pair<std::string, KeyChange>>& keys() const;
  // From current_target down to target (Yjs's event.path).
  std::vector<PathStep> path() const;
  // The delta as Yjs's JSON: [{"insert": …, "attributes": {…}}, {"retain": n}, {"delete": n}].
  Any delta_json() const;

 private:
  std::vector<std::string> changed_keys_;
  mutable std::optional<std::vector<EventOp>> delta_;
  mutable std::optional<std::vector<std::pair<std::string, KeyChange>>> keys_;
};

// A snapshot as Yjs's encodeSnapshot writes it (the delete set, then the state vector), and
// back; DecodeError for anything else.
Bytes encode_snapshot(const Snapshot& snapshot);
Snapshot decode_snapshot(std::span<const std::uint8_t> bytes);

// The state vector an update brings, without a document (Yjs's encodeStateVectorFromUpdate): per
// client, in the update's order, the clock its structs reach when they start at 0, up to the
// first gap. Throws DecodeError.
Bytes encode_state_vector_from_update_v1(std::span<const std::uint8_t> update);
// Several updates as one, without a document (Yjs's mergeUpdates): structs in client order, gaps
// as skips, deleted content kept; the delete sets merged. Throws DecodeError.
Bytes merge_updates_v1(const std::vector<std::span<const std::uint8_t>>& updates);
// What of `update` a replica at `since` lacks, without a document (Yjs's diffUpdate).
Bytes diff_update_v1(std::span<const std::uint8_t> update, const StateVector& since);
// The same for updates in format v2 (Yjs's ...V2 functions); state vectors have one format.
Bytes encode_state_vector_from_update_v2(std::span<const std::uint8_t> update);
Bytes merge_updates_v2(const std::vector<std::span<const std::uint8_t>>& updates);
Bytes diff_update_v2(std::span<const std::uint8_t> update, const StateVector& since);
// An update in the other format, struct for struct (Yjs's convertUpdateFormatV1ToV2 and
// convertUpdateFormatV2ToV1). Throws DecodeError.
Bytes convert_update_v1_to_v2(std::span<const std::uint8_t> update);
Bytes convert_update_v2_to_v1(std::span<const std::uint8_t> update);

}  // namespace cairn::crdt
