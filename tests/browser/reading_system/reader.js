// The test's reader: foliate-js's <foliate-view> on a whole page, driven from Playwright through
// `window.reader`. It adds nothing to how foliate-js opens, lays out and navigates a book.
import '/foliate-js/view.js'

const view = document.createElement('foliate-view')
document.body.append(view)
let shown = null // the renderer's last `relocate`: { index, range, reason, fraction }
let moves = 0 // how many times it has relocated

const current = () => view.renderer.getContents().find(({ index }) => index === shown?.index)

window.reader = {
    async open(url) {
        await view.open(url)
        view.renderer.addEventListener('relocate', ({ detail }) => { shown = detail; moves += 1 })
        return {
            dir: view.book.dir,
            sections: view.book.sections.map(({ id, linear }) => ({ id, linear: linear ?? 'yes' })),
        }
    },
    async show(index) {
        await view.goTo(index)
        return this.where()
    },
    // Where the reader is and what it shows: the section, the text of its document and of the
    // part on screen, and its images (an image-only page such as the cover has no text).
    where() {
        const { doc } = current() ?? {}
        return {
            index: shown?.index ?? null,
            moves,
            text: doc?.body?.innerText.trim() ?? '',
            visibleText: shown?.range?.toString().trim() ?? '',
            images: Array.from(doc?.images ?? [], image => ({
                src: image.getAttribute('src'), loaded: image.complete && image.naturalWidth > 0,
            })),
        }
    },
    // The link `nth` `a[href="…"]` of the section on screen, brought onto the page: its centre in
    // the page's coordinates (for a real mouse click), and how many moves the reader had made.
    async bringLink(href, nth) {
        const { doc } = current()
        const link = Array.from(doc.querySelectorAll('a[href]')).filter(a => a.getAttribute('href') === href)[nth]
        if (!link) return null
        await view.renderer.scrollToAnchor(link)
        const frame = doc.defaultView.frameElement.getBoundingClientRect()
        const box = Array.from(link.getClientRects()).find(r => r.width > 0 && r.height > 0)
        return { x: frame.left + box.left + box.width / 2, y: frame.top + box.top + box.height / 2, moves }
    },
    // Whether the reader has moved since its move `after`, to section `index` with the element
    // `id` (if one is named) on screen.
    shows(index, id, after) {
        if (moves <= after || shown?.index !== index) return false
        if (!id) return true
        const target = current()?.doc.getElementById(id)
        return Boolean(target) && shown.range.intersectsNode(target)
    },
}
