"""The page's CSS and the small script that turns a click on a citation chip into a source selection."""

from __future__ import annotations

CSS = """
#chat a.cite, #sources .src-num {
  display: inline-block; min-width: 1.35em; padding: 0 .35em; margin: 0 .1em; border-radius: .7em;
  background: #e0e7ff; color: #3730a3 !important; font-size: .8em; font-weight: 600; text-align: center;
  text-decoration: none !important; line-height: 1.5em; vertical-align: .1em; cursor: pointer;
}
#chat a.cite:hover { background: #6366f1; color: #fff !important; }
#sources .sources-head { font-weight: 600; margin: .2em 0 .6em; }
#sources .sources-empty { color: #6b7280; font-style: italic; }
#sources .src-card { border: 1px solid #e5e7eb; border-radius: 8px; padding: .6em .8em; margin-bottom: .7em; }
#sources .src-card.selected { border: 2px solid #6366f1; background: #eef2ff; box-shadow: 0 0 0 3px #c7d2fe; }
#sources .src-title { font-weight: 600; }
#sources .src-meta { color: #6b7280; font-size: .85em; margin: .2em 0 .4em; }
#sources .src-passage { font-size: .92em; line-height: 1.45; white-space: pre-wrap; }
#sources mark.evidence { background: #fde68a; padding: 0 .1em; border-radius: 3px; }
#sources .src-card.selected mark.evidence { background: #fbbf24; }
#sources .supports { color: #4b5563; font-size: .82em; margin-top: .35em; font-style: italic; }
#document-list .docs-head { font-weight: 600; margin-bottom: .4em; }
#document-list .doc-list { max-height: 16em; overflow-y: auto; margin: 0; padding-left: 1.1em; font-size: .9em; }
#document-list .doc-meta, #document-list .docs-empty { color: #6b7280; font-size: .85em; }
"""

# Chips are links (#src-TURN-MARKER), so they read well even where the script does not run. The script
# catches the click before the chat's own link handling, hands "TURN:MARKER:nonce" to the hidden
# #cite-key box (the nonce makes a second click on the same chip count), and the server re-renders the panel.
HEAD = """
<script>
(() => {
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a.cite, a[href^='#src-']") : null;
    if (!link) return;
    const found = (link.getAttribute("href") || "").match(/^#src-(\\d+)-(\\d+)$/);
    if (!found) return;
    event.preventDefault();
    event.stopPropagation();
    const box = document.querySelector("#cite-key textarea, #cite-key input");
    if (!box) return;
    box.value = `${found[1]}:${found[2]}:${Date.now()}`;
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }, true);
})();
</script>
"""

SCROLL_TO_SELECTED = """
() => {
  const card = document.querySelector("#sources .src-card.selected");
  if (card) card.scrollIntoView({ behavior: "smooth", block: "nearest" });
}
"""
