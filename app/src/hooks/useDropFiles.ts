// A file dragged anywhere onto the page: the overlay while it hovers, and the dropped file handed on.

import { type DragEvent, useState } from 'react';
import { dragHasFiles } from '../components/SourcePicker';

export function useDropFiles(onFile: (file: File) => void | Promise<void>) {
  const [dragging, setDragging] = useState(false);
  const handlers = {
    onDragOver(e: DragEvent) {
      if (!dragHasFiles(e)) return;
      e.preventDefault();
      setDragging(true);
    },
    onDragLeave(e: DragEvent) {
      if (e.currentTarget === e.target) setDragging(false);
    },
    onDrop(e: DragEvent) {
      if (!dragHasFiles(e)) return;
      e.preventDefault();
      setDragging(false);
      const file = e.dataTransfer.files[0];
      if (file) void onFile(file);
    },
  };
  return { dragging, handlers };
}
