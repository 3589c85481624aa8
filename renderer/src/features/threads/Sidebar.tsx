/** The sidebar: new chat, search, the chat list (or search results), the hub and library pages, assistants. */
import { shortcutLabel } from '../../app/shortcuts';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { openDialog, requestFocus, showPage } from '../../app/uiSlice';
import { Icon } from '../../components/Icon';
import { openThread } from '../chat/chatSlice';
import { SearchBox, SearchResults } from '../search/SearchBox';
import { ThreadList } from './ThreadList';

export function Sidebar() {
  const dispatch = useAppDispatch();
  const searching = useAppSelector((s) => s.search.query.trim().length > 0);
  const page = useAppSelector((s) => s.ui.page);
  const newChat = () => {
    dispatch(openThread(null));
    dispatch(requestFocus('composer'));
  };
  return (
    <nav className="sidebar" id="sidebar" aria-label="Chats">
      <div className="brand">
        <span className="logo" aria-hidden="true">
          <Icon name="flame" size={20} />
        </span>
        <h1>Hearth</h1>
      </div>
      <button type="button" className="button new-chat-button" onClick={newChat} title={`New chat (${shortcutLabel('newChat')})`}>
        <Icon name="plus" size={16} /> New chat
      </button>
      <SearchBox />
      <div className="sidebar-scroll">{searching ? <SearchResults /> : <ThreadList />}</div>
      <div className="sidebar-foot">
        <button type="button" className={`button ghost full${page === 'hub' ? ' current' : ''}`} aria-current={page === 'hub' ? 'page' : undefined} onClick={() => dispatch(showPage('hub'))}>
          <Icon name="search" size={16} /> Find models
        </button>
        <button type="button" className={`button ghost full${page === 'library' ? ' current' : ''}`} aria-current={page === 'library' ? 'page' : undefined} onClick={() => dispatch(showPage('library'))}>
          <Icon name="box" size={16} /> My models
        </button>
        <button type="button" className="button ghost full" onClick={() => dispatch(openDialog('assistants'))}>
          <Icon name="users" size={16} /> Assistants
        </button>
      </div>
    </nav>
  );
}
