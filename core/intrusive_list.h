// An intrusive doubly linked list: the element carries its own links (a ListHook
// member), so linking and unlinking allocate nothing and cost O(1). The list does not
// own its elements. One element may sit in several lists through several hooks.
//
//   struct Conn { core::ListHook all; core::ListHook idle; };
//   core::IntrusiveList<Conn, &Conn::all> conns;
//   conns.push_front(c); conns.remove(c); for (Conn* c : conns) ...
#pragma once

#include <cstddef>

namespace ferry::core {

struct ListHook {
    void* prev = nullptr;
    void* next = nullptr;
    bool linked = false;
};

template <class T, ListHook T::*Hook>
class IntrusiveList {
  public:
    IntrusiveList() = default;
    IntrusiveList(const IntrusiveList&) = delete;
    IntrusiveList& operator=(const IntrusiveList&) = delete;

    bool empty() const { return head_ == nullptr; }
    size_t size() const { return size_; }
    T* front() const { return head_; }
    T* back() const { return tail_; }
    static bool linked(const T* t) { return (t->*Hook).linked; }
    static T* next(const T* t) { return static_cast<T*>((t->*Hook).next); }
    static T* prev(const T* t) { return static_cast<T*>((t->*Hook).prev); }

    void push_front(T* t) {
        ListHook& h = t->*Hook;
        h.prev = nullptr;
        h.next = head_;
        h.linked = true;
        if (head_) (head_->*Hook).prev = t;
        head_ = t;
        if (!tail_) tail_ = t;
        ++size_;
    }

    void push_back(T* t) {
        ListHook& h = t->*Hook;
        h.next = nullptr;
        h.prev = tail_;
        h.linked = true;
        if (tail_) (tail_->*Hook).next = t;
        tail_ = t;
        if (!head_) head_ = t;
        ++size_;
    }

    // Unlinks `t` (a no-op when it is in no list through this hook).
    void remove(T* t) {
        ListHook& h = t->*Hook;
        if (!h.linked) return;
        T* p = static_cast<T*>(h.prev);
        T* n = static_cast<T*>(h.next);
        if (p) (p->*Hook).next = n;
        if (n) (n->*Hook).prev = p;
        if (head_ == t) head_ = n;
        if (tail_ == t) tail_ = p;
        h = ListHook{};
        --size_;
    }

    // Iteration that tolerates removing the current element: the next one is read
    // before the element is handed out.
    class Iterator {
      public:
        explicit Iterator(T* at) : at_(at), next_(at ? IntrusiveList::next(at) : nullptr) {}
        T* operator*() const { return at_; }
        Iterator& operator++() {
            at_ = next_;
            next_ = at_ ? IntrusiveList::next(at_) : nullptr;
            return *this;
        }
        bool operator!=(const Iterator& o) const { return at_ != o.at_; }

      private:
        T* at_;
        T* next_;
    };
    Iterator begin() const { return Iterator(head_); }
    Iterator end() const { return Iterator(nullptr); }

  private:
    T* head_ = nullptr;
    T* tail_ = nullptr;
    size_t size_ = 0;
};

}  // namespace ferry::core
