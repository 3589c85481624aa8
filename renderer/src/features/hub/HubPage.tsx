/** The Hub page: Search Hugging Face for GGUF models. */

export function HubPage() {
  return (
    <section className="page" aria-labelledby="hub-page-title">
      <h2 id="hub-page-title">Hub</h2>
    </section>
  );
}
