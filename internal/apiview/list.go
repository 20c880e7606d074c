package apiview

// TaskSortColumns are the columns a task list may be sorted by (REST's
// sort_by), the default first.
var TaskSortColumns = []string{"task_id", "created_at", "requested_at", "name", "status", "namespace", "updated_at"}

// Task list limits: the page size when none is given and the largest one.
const (
	DefaultListLimit = 20
	MaxListLimit     = 1000
)

// Pagination describes one page of a list. Its members are in alphabetical
// order, as the REST answers have always had them.
type Pagination struct {
	HasMore bool `json:"has_more"`
	Limit   int  `json:"limit"`
	Offset  int  `json:"offset"`
	Total   int  `json:"total"`
	// Truncated is true when the page holds fewer items than asked for
	// because the answer reached its byte limit: Limit is then the number
	// of items given, so the next page starts at Offset+Limit.
	Truncated bool `json:"truncated,omitempty"`
	// TotalCapped is true when the count stopped at the request's
	// count_limit: Total is then that limit, and more items match.
	TotalCapped bool `json:"total_capped,omitempty"`
}

// NewPagination describes the page of n items at offset of a list of total
// items asked with limit.
func NewPagination(total, limit, offset, n int) Pagination {
	return Pagination{HasMore: offset+n < total, Limit: limit, Offset: offset, Total: total}
}
