/** The Library page: The models on this disk. */

export function LibraryPage() {
  return (
    <section className="page" aria-labelledby="library-page-title">
      <h2 id="library-page-title">Library</h2>
    </section>
  );
}
