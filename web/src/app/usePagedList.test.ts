import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { PagedListStore, type Page } from "./usePagedList";

/** A fetcher over fixed pages keyed by token; records the tokens asked for. */
function pages(table: Record<string, Page<string>>) {
  const asked: string[] = [];
  const fetch = async (token: string) => {
    asked.push(token);
    const page = table[token];
    if (!page) throw new ConnectError("no such page", Code.InvalidArgument);
    return page;
  };
  return { fetch, asked };
}

/** A promise settled from outside, to hold a call open. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("PagedListStore", () => {
  it("starts empty, not busy, without items", () => {
    const s = new PagedListStore<string>(pages({}).fetch);
    expect(s.getSnapshot()).toEqual({ items: null, nextPageToken: "", total: 0, busy: false, problem: null });
  });

  it("appends the next page and keeps the last token and total", async () => {
    const { fetch, asked } = pages({
      "": { items: ["a", "b"], nextPageToken: "p2", totalSize: 5 },
      p2: { items: ["c", "d"], nextPageToken: "p3", totalSize: 5 },
      p3: { items: ["e"], nextPageToken: "" },
    });
    const s = new PagedListStore(fetch);
    await s.refresh();
    expect(s.getSnapshot()).toMatchObject({ items: ["a", "b"], nextPageToken: "p2", total: 5, busy: false });
    await s.more();
    expect(s.getSnapshot()).toMatchObject({ items: ["a", "b", "c", "d"], nextPageToken: "p3", total: 5 });
    await s.more();
    expect(s.getSnapshot()).toMatchObject({ items: ["a", "b", "c", "d", "e"], nextPageToken: "", total: 0 });
    await s.more(); // no next page: no call
    expect(asked).toEqual(["", "p2", "p3"]);
  });

  it("refresh replaces what was loaded with the first page", async () => {
    let first: Page<string> = { items: ["a"], nextPageToken: "p2" };
    const s = new PagedListStore<string>(async (token) => (token ? { items: ["b"], nextPageToken: "" } : first));
    await s.refresh();
    await s.more();
    expect(s.getSnapshot().items).toEqual(["a", "b"]);
    first = { items: ["x", "y"], nextPageToken: "" };
    await s.refresh();
    expect(s.getSnapshot()).toMatchObject({ items: ["x", "y"], nextPageToken: "" });
  });

  it("is busy while a call runs and tells its subscribers", async () => {
    const d = deferred<Page<string>>();
    const s = new PagedListStore<string>(() => d.promise);
    const seen: boolean[] = [];
    const unsubscribe = s.subscribe(() => seen.push(s.getSnapshot().busy));
    const call = s.refresh();
    expect(s.getSnapshot().busy).toBe(true);
    d.resolve({ items: ["a"], nextPageToken: "" });
    await call;
    expect(s.getSnapshot().busy).toBe(false);
    expect(seen[0]).toBe(true);
    expect(seen.at(-1)).toBe(false);
    unsubscribe();
    await s.refresh();
    expect(seen.at(-1)).toBe(false); // no longer told
  });

  it("keeps an error as the problem, resets busy and keeps the items", async () => {
    const { fetch } = pages({ "": { items: ["a"], nextPageToken: "broken" } });
    const s = new PagedListStore(fetch);
    await s.refresh();
    await s.more();
    const st = s.getSnapshot();
    expect(st.busy).toBe(false);
    expect(st.problem?.code).toBe(Code.InvalidArgument);
    expect(st.items).toEqual(["a"]);
    expect(st.nextPageToken).toBe("broken");
  });

  it("clears the problem when the next call starts", async () => {
    let fail = true;
    const s = new PagedListStore<string>(async () => {
      if (fail) throw new ConnectError("down", Code.Unavailable);
      return { items: ["a"], nextPageToken: "" };
    });
    await s.refresh();
    expect(s.getSnapshot().problem?.code).toBe(Code.Unavailable);
    fail = false;
    const call = s.refresh();
    expect(s.getSnapshot().problem).toBeNull();
    await call;
    expect(s.getSnapshot()).toMatchObject({ items: ["a"], problem: null, busy: false });
  });

  it("drops the answer of a call that a later one superseded", async () => {
    const slow = deferred<Page<string>>();
    const fast = deferred<Page<string>>();
    const calls = [slow, fast];
    const s = new PagedListStore<string>(() => calls.shift()!.promise);
    const first = s.refresh();
    const second = s.refresh();
    fast.resolve({ items: ["new"], nextPageToken: "" });
    await second;
    slow.resolve({ items: ["old"], nextPageToken: "p2" });
    await first;
    expect(s.getSnapshot()).toMatchObject({ items: ["new"], nextPageToken: "", busy: false });
  });

  it("drops a failure that a later call superseded, and everything after cancel", async () => {
    const failing = deferred<Page<string>>();
    const calls = [failing, deferred<Page<string>>()];
    const s = new PagedListStore<string>(() => calls.shift()!.promise);
    const first = s.refresh();
    void s.refresh();
    s.cancel();
    failing.reject(new ConnectError("late", Code.Internal));
    await first;
    expect(s.getSnapshot().problem).toBeNull();
    expect(s.getSnapshot().items).toBeNull();
  });

  it("uses the fetcher set last", async () => {
    const s = new PagedListStore<string>(async () => ({ items: ["old filter"], nextPageToken: "" }));
    s.setFetcher(async () => ({ items: ["new filter"], nextPageToken: "" }));
    await s.refresh();
    expect(s.getSnapshot().items).toEqual(["new filter"]);
  });

  it("lets live updates change the loaded items and row actions set the problem", async () => {
    const s = new PagedListStore<string>(async () => ({ items: ["a"], nextPageToken: "" }));
    s.setItems((prev) => (prev ? [...prev, "early"] : prev));
    expect(s.getSnapshot().items).toBeNull(); // nothing loaded yet: left alone
    await s.refresh();
    s.setItems((prev) => (prev ? [...prev, "b"] : prev));
    expect(s.getSnapshot().items).toEqual(["a", "b"]);
    s.setProblem({ code: Code.NotFound, message: "gone", fields: [], preconditions: [] });
    expect(s.getSnapshot().problem?.code).toBe(Code.NotFound);
  });
});
