/** What inference returns for one image: small and JSON-ready. */

export interface Prediction {
  label: string;
  score: number;
}

export interface Detection {
  label: string;
  class_id: number;
  score: number;
  /** [x1, y1, x2, y2] in source-image pixels. */
  box: [number, number, number, number];
}

export interface InferenceOutput {
  predictions: Prediction[];
  has_person?: boolean;
  detections?: Detection[];
}
